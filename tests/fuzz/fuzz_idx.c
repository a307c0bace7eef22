/* fuzz_idx: Fashion-MNIST idx files, plain or gzip'd, through fmnist_read
 * (decompression bounded by the declared size, the idx headers, labels,
 * the frame budget, the resize). The first byte picks which of the four
 * files the rest of the input replaces; the other three are small valid
 * files, so each file's parser is reached. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/fmnist.h"
#include "tests/fuzz/fuzz.h"

static const char *const NAMES[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

/* A valid idx file: 2 images of 28x28, or 2 labels. */
static size_t valid_idx(int images, uint8_t *buf) {
    size_t n = 0;
    buf[n++] = 0, buf[n++] = 0, buf[n++] = 8, buf[n++] = images ? 3 : 1;
    uint32_t dims[3] = {2, 28, 28};
    for (int d = 0; d < (images ? 3 : 1); d++)
        for (int b = 3; b >= 0; b--) buf[n++] = (uint8_t)(dims[d] >> (8 * b));
    size_t body = images ? 2 * 784 : 2;
    for (size_t i = 0; i < body; i++) buf[n++] = (uint8_t)(images ? i * 7 : i % 10);
    return n;
}

int fuzz_idx(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *dir = fuzz_path("fmnist");
    char d[640];
    snprintf(d, sizeof d, "%s", dir);
    mkdir(d, 0700);
    int pick = data[0] & 3;
    bool gz = size >= 3 && data[1] == 0x1f && data[2] == 0x8b;
    uint8_t buf[16 + 2 * 784];
    for (int i = 0; i < 4; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s%s", d, NAMES[i], i == pick && gz ? ".gz" : "");
        if (i == pick) fuzz_write(p, data + 1, size - 1);
        else fuzz_write(p, buf, valid_idx(i % 2 == 0, buf));
    }
    FmnistOptions o;
    fmnist_defaults(&o);
    o.dir = d;
    o.size = 32;
    Dataset ds;
    if (fmnist_read(&o, &ds) == VB_OK) {
        fuzz_accepted++;
        dataset_free(&ds);
    }
    for (int i = 0; i < 4; i++) { /* the next input may pick another file */
        char p[800];
        snprintf(p, sizeof p, "%s/%s.gz", d, NAMES[i]);
        remove(p);
        snprintf(p, sizeof p, "%s/%s", d, NAMES[i]);
        remove(p);
    }
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_idx)
