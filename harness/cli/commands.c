/* commands: the table of subcommands `vadbench` dispatches to. */
#include "harness/cli/commands.h"
#include "harness/cli/cli.h"

const CliCommand cli_commands[] = {
    {"help", "describe the commands (`vadbench help CMD` for one)", "help [COMMAND]", NULL},
    {"run", "run experiment matrices (train, evaluate, measure, record)",
     "run FILE... [--dry-run] [--only PATTERN] [--shard i/n] [--cell HASH]... [--backend cpu|cuda]\n"
     "        [--threads N] [--db PATH] [--checkpoint-dir DIR] [--mirror PATH] [--quiet]\n"
     "        [--retry-failed] [--lease SECONDS]\n\n"
     "Runs every cell (variant x holdout x seed) of each experiment file; cells already done\n"
     "in the database are skipped, interrupted ones resume from their checkpoint, failed ones\n"
     "are recorded with the reason while the rest go on. --only matches fnmatch patterns\n"
     "against variant/holdout/seedN; --shard i/n takes every n-th cell from the i-th; --cell\n"
     "takes the cell with that config hash (repeatable). With any of them the process\n"
     "registers and reads data for its own cells only (--cell alone reads the file's data\n"
     "sets in variant order until the hash is found; add --only to read just the cell's).\n"
     "Checkpoints go to --checkpoint-dir (default: checkpoints/ beside the database);\n"
     "--mirror writes a consistent copy of the database to PATH before every checkpoint (a\n"
     "node-local database mirrored to shared storage: a task killed with its node resumes\n"
     "from its checkpoint with every metric logged up to it).\n"
     "Failed cells stay failed until --retry-failed queues them again from the beginning\n"
     "(their checkpoints are deleted); a cell failed by a passing cause (disk full, out of\n"
     "memory) is queued again by the next run without asking. Several processes may share\n"
     "one database: a claimed cell's lease (--lease, default 120 s) is renewed every quarter\n"
     "lease for as long as the cell runs; a lost runner's cell is taken over when its lease\n"
     "ends. Exit status, first that applies: 130 when interrupted (Ctrl-C, SIGTERM: the\n"
     "checkpoint is written and the cell left resumable; a second signal, or one outside a\n"
     "cell, exits at once), 75 when SIGUSR1 (Slurm's warning before a time limit or\n"
     "preemption) stopped a cell the same way or left cells to run: run the same command\n"
     "again (a requeue) to resume them; 1 when a selected cell is failed (in this run or an\n"
     "earlier one).",
     cmd_run},
    {"retry", "queue failed runs again from the beginning",
     "retry RUN... [--db PATH]\n\n"
     "RUN is a run id or at least 4 hex digits of its config hash (see `vadbench runs --status\n"
     "failed`). Each must be failed; it is queued again with its error, metrics and\n"
     "checkpoint cleared, and the next `vadbench run` of its experiment file runs it.",
     cmd_retry},
    {"forward", "run a model on a safetensors input (weights in and out of PyTorch)",
     "forward --model FILE.yaml [--variant NAME] [--weights W.safetensors] --input X.safetensors\n"
     "        --output Y.safetensors [--mode eval|train] [--noise N.safetensors] [--seed S]\n"
     "        [--threads N] [--allow-missing] [--allow-unused]\n\n"
     "FILE.yaml holds a `model:` mapping (or an experiment file with --variant). X holds `x`,\n"
     "F32 (B,3,H,W) or (B,T,3,H,W), already normalised. Y receives features, temporal,\n"
     "projection, class_logits, binary_logits, svdd_embedding, svdd_score and, with a VAE,\n"
     "vae_mu, vae_logvar, vae_reconstruction, vae_score. Without --weights the model is\n"
     "initialised from --seed (default 0). In train mode --noise supplies dropout masks (named\n"
     "by dropout site) and `vae.eps`; otherwise they are drawn from the seed.",
     cmd_forward},
    {"bench", "time a training step, inference, the data loader or the CPU SGEMM",
     "bench --model FILE.yaml [--variant NAME] [--mode train|infer|loader|gemm] [--batch N]\n"
     "        [--clip T]\n"
     "        [--steps K] [--warmup W] [--threads N] [--backend cpu|cuda] [--seed S]\n"
     "        [--workers N] [--precision fp32|bf16]\n\n"
     "Times the full training step (forward, MODEL_SPEC losses, backward, clipping, AdamW) or\n"
     "inference on random data after W warm-up steps (--precision bf16: convolutions and GEMMs\n"
     "in bfloat16, backend cuda only); prints one JSON line with images/s,\n"
     "median/p90/p99 milliseconds, peak RSS and arena bytes. --mode loader times the training\n"
     "loader instead (synthetic videos at the model's image size, augmentation and sampler\n"
     "on, --workers threads, default 2) and adds batches/s. Train and infer also report the\n"
     "GFLOP of the CPU backend's products (GEMMs, depthwise convolutions) per step and the\n"
     "GFLOP/s they achieved at the median step time, and the instruction-set path. --mode gemm\n"
     "(no --model) measures the CPU SGEMM's peak: a cache-friendly 2016x512x256 product\n"
     "repeated --steps times on --threads threads, best GFLOP/s.",
     cmd_bench},
    {"data", "make, inspect, probe and pre-decode data sets (synth, inspect, probe, cache)",
     "data synth|inspect|probe|cache [options]   (`vadbench data SUBCOMMAND --help` for one)",
     cmd_data},
    {"keys", "list every experiment-file key with its type, default and meaning", "keys [SECTION]",
     cmd_keys},
    {"runs", "list the runs in the results store",
     "runs [--experiment NAME] [--status queued|running|done|failed] [--format table|csv|json]\n"
     "        [--db PATH]\n\n"
     "One line per run: id, experiment, variant, holdout, seed, status, up to four key final\n"
     "metrics (test before val, AUC/AP/accuracy first), wall time, config hash and error.\n"
     "csv and json carry every final metric as a \"split/key\" column. The database is --db,\n"
     "else $VADBENCH_DB, else results/vadbench.db.",
     cmd_runs},
    {"show", "show one run: config, provenance, metrics, timings, latency",
     "show RUN [--format text|json] [--db PATH]\n\n"
     "RUN is a run id or at least 4 hex digits of its config hash (an ambiguous prefix lists\n"
     "the runs it matches). Prints status and times, provenance, final metrics, a summary of\n"
     "each curve, timings, latency percentiles (ms) and the resolved config.",
     cmd_show},
    {"export", "export one row per run with every final metric (CSV or JSON)",
     "export --format csv|json [--experiment NAME] [--status S] [--db PATH]\n\n"
     "One row per run: ids, variant, holdout, seed, status, error, times, provenance, then each\n"
     "final metric as its own \"split/key\" column (empty/null where a run lacks it), for\n"
     "pandas (pd.read_csv) and spreadsheets.",
     cmd_export},
    {"report", "write an experiment's report: Markdown, HTML, gnuplot figures",
     "report EXPERIMENT [--out DIR] [--templates DIR] [--db PATH]\n\n"
     "Writes DIR (default reports/EXPERIMENT/): report.md, a self-contained report.html (figures\n"
     "embedded), each figure as PNG and SVG with the gnuplot script (.gp) and data (.dat) that\n"
     "made it (style.gp restyles them all). Tables: the experiment's claims (compare.claims)\n"
     "against measurements, metrics per variant (mean +- 95% interval across seeds), paired\n"
     "differences with the baseline (bootstrap 95% intervals, verdicts, detectable differences),\n"
     "shortcut baselines, provenance. gnuplot is $VADBENCH_GNUPLOT or `gnuplot`; without it\n"
     "the tables are still written. The scripts' and the page's static text are the templates\n"
     "of reports/templates/, built in; --templates DIR takes each template DIR holds from there\n"
     "instead (edit and rerun, no rebuild). reports/README.md explains every table and figure.\n"
     "Prints the path of report.html. Exit 2 for an unknown experiment or one without done\n"
     "runs, or a template that does not expand.",
     cmd_report},
    {"baseline", "pin runs as a named baseline for `check`",
     "baseline pin NAME --experiment X [--variant V] [--db PATH]\n"
     "       baseline show NAME [--db PATH]\n\n"
     "pin records the done runs of experiment X (of variant V only, if given; the newest run\n"
     "of each cell) as baseline NAME, replacing what NAME held. show lists its runs.",
     cmd_baseline},
    {"check", "compare candidate runs with a baseline; exit 1 on a regression",
     "check --baseline NAME (--experiment X [--variant V] | --runs ID,ID,...)\n"
     "        [--tolerance METRIC=ABS ...] [--latency-factor F] [--format table|json] [--db PATH]\n\n"
     "Metrics: the mean over the candidate runs against the mean over the baseline runs, for\n"
     "the experiment's compare.metrics (with --experiment) and every --tolerance metric;\n"
     "tolerances are absolute, from compare.tolerances, overridden or added by --tolerance\n"
     "(repeatable, or comma-separated). A drop beyond the tolerance (a rise, for false-positive\n"
     "rates, losses and costs) is a regression; a metric without a tolerance is shown, not\n"
     "gated. Latency: p50 and p99 of the pooled raw samples of the whole model (`model`) at each\n"
     "batch size both sides measured; a regression needs BOTH candidate/baseline > F\n"
     "(--latency-factor, else compare.latency_factor, else 1.5) AND a one-sided Mann-Whitney U\n"
     "test p < 0.01 (candidate slower). Exit 0 all hold, 1 a regression, 2 bad input (unknown\n"
     "baseline, no runs, a missing metric).",
     cmd_check},
    {"merge", "copy shard databases into one results store by config hash",
     "merge OUT.db SHARD.db... [--quiet] [--verbose]\n\n"
     "Copies every run of each shard into OUT (created if missing) with its metrics, timings,\n"
     "latency samples, provenance and baselines, one transaction per shard, matched by config\n"
     "hash. A run done in both is compared by its final metrics (measured times and memory\n"
     "left out): equal changes nothing, so merging twice is a no-op; different is a conflict,\n"
     "printed with the differing keys, and OUT's values are kept. A failed shard run is copied\n"
     "where OUT lacks the cell; queued and running ones are reported, not copied. Shards come\n"
     "from `vadbench slurm submit` or from `vadbench run --shard i/n --db SHARD` on several\n"
     "machines. --verbose lists every run. Exit 0 when every shard run is done and in OUT, 1\n"
     "when one conflicted, failed or is unfinished, 2 when a shard could not be read (the\n"
     "others are merged).",
     cmd_merge},
    {"slurm", "run experiment matrices on a Slurm cluster (submit, status, cancel)",
     "slurm submit|status|cancel [options]   (`vadbench slurm SUBCOMMAND --help` for one)",
     cmd_slurm},
};
const int cli_ncommands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
