/* fuzz_experiment: experiment files through the real loader — the YAML
 * guard, libfyaml, the schema readers, variants, holdouts, seeds, compare
 * settings — then the matrix (cells, canonical JSON, config hashes) and
 * the model-file reader `bench` and `forward` use. */
#include <stdlib.h>

#include "harness/experiment/experiment.h"
#include "tests/fuzz/fuzz.h"

int fuzz_experiment(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("experiment.yaml");
    if (fuzz_write(path, data, size) != 0) return 0;
    Experiment e;
    if (experiment_load(path, &e) == VB_OK) {
        fuzz_accepted++;
        /* the matrix of a small file (large ones are bounded by EXP_MAX_CELLS
         * and take long, not differently) */
        if ((long)e.nvariants * e.nholdouts * e.nseeds <= 512) {
            const char **dig = calloc((size_t)e.nvariants, sizeof *dig);
            for (int v = 0; dig && v < e.nvariants; v++) dig[v] = "fuzzdigest";
            Cell *cells;
            int n;
            if (dig && experiment_cells(&e, dig, &cells, &n) == VB_OK) {
                for (int i = 0; i < n && i < 4; i++) {
                    char *c = config_canonical(cells[i].config);
                    RunConfig back;
                    run_config_from_json(cells[i].config, &back);
                    free(c);
                }
                experiment_cells_free(cells, n);
            }
            free(dig);
        }
        experiment_free(&e);
    }
    ModelConfig mc;
    cfg_read_model_file(path, NULL, &mc);
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_experiment)
