/* commands: the table of subcommands `vadbench` dispatches to. */
#include "cli.h"
#include "commands.h"

const CliCommand cli_commands[] = {
    {"help", "describe the commands (`vadbench help CMD` for one)", "help [COMMAND]", NULL},
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
    {"bench", "time a training step or inference of a model configuration",
     "bench --model FILE.yaml [--variant NAME] [--mode train|infer] [--batch N] [--clip T]\n"
     "        [--steps K] [--warmup W] [--threads N] [--backend cpu|cuda] [--seed S]\n\n"
     "Times the full training step (forward, MODEL_SPEC losses, backward, clipping, AdamW) or\n"
     "inference on random data after W warm-up steps; prints one JSON line with images/s,\n"
     "median/p90/p99 milliseconds, peak RSS and arena bytes.",
     cmd_bench},
    {"keys", "list every experiment-file key with its type, default and meaning",
     "keys [SECTION]", cmd_keys},
};
const int cli_ncommands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
