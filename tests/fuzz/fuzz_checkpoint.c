/* fuzz_checkpoint: checkpoint files through ckpt_load — safetensors
 * validation, the metadata (format, config hash, layout, checksum), the
 * JSON training state, every tensor read into host memory and verified —
 * into a tiny model built once, as a resumed cell reads its checkpoint.
 *
 * The input is the head of a checkpoint file (its 8-byte header length and
 * JSON header, anything): the target appends the data section of a real
 * checkpoint of the tiny model (310 KB of parameters and moments that
 * mutations would only slow down), so that an intact head yields a file
 * that loads and a mutated one exercises every refusal. Raw files of any
 * shape are the safetensors target's business. make_seeds() writes the
 * heads of real checkpoints (the seed corpus). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/checkpoint.h"
#include "tests/fuzz/fuzz.h"

typedef struct Tiny {
    bool ready;
    Hybrid m;
    AdamW opt;
    float *swa;
    uint8_t *tail; /* the data section of a real checkpoint with SWA */
    size_t ntail;
} Tiny;

static Tiny g;

/* The training state of every checkpoint this target makes. */
static CkptState seed_state(bool finished) {
    CkptState s = {0};
    s.step = 3, s.epoch = 1, s.loader_batch = 2, s.adam_step = 3, s.best_metric = 0.5;
    s.finished = finished;
    return s;
}

/* The model every checkpoint of this target is for: ~3,000 parameters. */
static bool tiny(void) {
    if (g.ready) return true;
    ModelConfig mc;
    model_config_defaults(&mc);
    mc.width = 0.05, mc.depth = 0.05;
    mc.temporal = TEMPORAL_NONE;
    mc.feature_dim = 4, mc.embedding_dim = 2, mc.svdd_hidden = 2, mc.classes = 2, mc.image = 32;
    if (hybrid_build(&g.m, &mc, kops_cpu(), 2, 1) != VB_OK) return false;
    if (adamw_init(&g.opt, &g.m.pt, 0.9f, 0.999f, 1e-8f, 0.01f) != VB_OK) return false;
    g.swa = g.m.net.k->alloc(g.m.pt.total * sizeof(float));
    if (!g.swa) return false;
    hybrid_init(&g.m, 1);
    /* the data section of a real checkpoint (the seeds' heads describe it) */
    const char *base = fuzz_path("base.ckpt");
    CkptState s = seed_state(false);
    if (ckpt_save(base, &g.m, &g.opt, g.swa, &s, "") != VB_OK) return false;
    FILE *f = fopen(base, "rb");
    if (!f) return false;
    uint8_t len8[8];
    uint64_t hlen = 0;
    bool ok = fread(len8, 1, 8, f) == 8;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    ok = ok && fseek(f, 0, SEEK_END) == 0;
    long size = ok ? ftell(f) : -1;
    ok = ok && size > 0 && (uint64_t)size > 8 + hlen && fseek(f, (long)(8 + hlen), SEEK_SET) == 0;
    if (ok) {
        g.ntail = (size_t)size - 8 - (size_t)hlen;
        g.tail = malloc(g.ntail);
        ok = g.tail && fread(g.tail, 1, g.ntail, f) == g.ntail;
    }
    fclose(f);
    remove(base);
    g.ready = ok;
    return g.ready;
}

int fuzz_checkpoint(const uint8_t *data, size_t size) {
    if (!tiny()) return 0;
    const char *path = fuzz_path("input.ckpt");
    if (fuzz_write(path, data, size) != 0 || fuzz_append(path, g.tail, g.ntail) != 0) return 0;
    CkptState s;
    /* the last byte picks whether the run resumes with SWA state (both are
     * the program's); the config hash is not checked (the seeds carry none) */
    bool swa = size > 0 && (data[size - 1] & 1);
    if (ckpt_load(path, &g.m, &g.opt, swa ? g.swa : NULL, &s, NULL, NULL) == VB_OK) fuzz_accepted++;
    vb_clear_error();
    return 0;
}

/* Write the heads of real checkpoints of the tiny model (with and without
 * SWA: the second one's head describes fewer bytes than the data appended,
 * a gap the reader tolerates) to dir. */
int fuzz_checkpoint_make_seeds(const char *dir);
int fuzz_checkpoint_make_seeds(const char *dir) {
    if (!tiny()) return 1;
    for (int k = 0; k < 2; k++) {
        CkptState s = seed_state(k == 1);
        const char *tmp = fuzz_path("seed.ckpt");
        if (ckpt_save(tmp, &g.m, &g.opt, k ? NULL : g.swa, &s, "") != VB_OK) return 1;
        FILE *f = fopen(tmp, "rb");
        uint8_t head[1 << 16];
        size_t n = f ? fread(head, 1, sizeof head, f) : 0;
        if (f) fclose(f);
        uint64_t hlen = 0;
        for (int i = 7; i >= 0 && n >= 8; i--) hlen = hlen << 8 | head[i];
        if (n < 8 || 8 + hlen > n) return 1;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s.head", dir, k ? "no_swa" : "with_swa");
        f = fopen(p, "wb");
        if (!f || fwrite(head, 1, 8 + hlen, f) != 8 + hlen || fclose(f) != 0) return 1;
        remove(tmp);
    }
    return 0;
}

FUZZ_TARGET(fuzz_checkpoint)
