#!/bin/sh
# deps.sh: make sure the Debian packages vadbench builds and runs with are
# present. Installs the missing ones with apt-get when run as root; otherwise
# prints the exact command to run and fails. Called by `make` (once, then a
# stamp file remembers), so `make test` and `make demo` need nothing else.
#   harness/deps.sh           build + run dependencies
#   harness/deps.sh --torch   also PyTorch (only to regenerate test fixtures
#                             and for the side-by-side benchmarks)
#   harness/deps.sh --fmnist  also Debian's Fashion-MNIST (make validate and
#                             the experiments on it)
#   harness/deps.sh --fuzz    also clang 14 with libFuzzer and its OpenMP
#                             runtime (only for `make fuzz`)
#   harness/deps.sh --slurm   also a one-host Slurm for `make test-slurm`
#                             (munge, slurmctld, slurmd, slurm-client; the
#                             services are not enabled: tests/slurm/start-local.sh
#                             starts them by hand); options combine
set -eu

# pkg-config name -> Debian package
PC_PKGS="libarchive:libarchive-dev sqlite3:libsqlite3-dev openblas:libopenblas-dev
libfyaml:libfyaml-dev spng:libspng-dev criterion:libcriterion-dev jansson:libjansson-dev"

missing=""
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
command -v make >/dev/null 2>&1 || missing="$missing make"
for pair in $PC_PKGS; do
    pc=${pair%%:*}
    deb=${pair#*:}
    if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$pc" 2>/dev/null; then
        missing="$missing $deb"
    fi
done
# libgomp comes with gcc; gnuplot and sqlite3 are run as programs
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
# make format-check (part of make test) pins the formatter's version
command -v clang-format-14 >/dev/null 2>&1 || missing="$missing clang-format-14"
for opt in "$@"; do
    case "$opt" in
    --torch)
        /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null ||
            missing="$missing python3-torch python3-torchvision"
        /usr/bin/python3 -c 'import sklearn' 2>/dev/null || missing="$missing python3-sklearn" ;;
    --slurm)
        # daemons live in /usr/sbin, which a non-root PATH may lack
        for pair in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
            p=${pair%%:*}
            command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || missing="$missing ${pair#*:}"
        done ;;
    --fmnist)
        [ -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] ||
            missing="$missing dataset-fashion-mnist" ;;
    --fuzz)
        command -v clang-14 >/dev/null 2>&1 || missing="$missing clang-14"
        ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
            missing="$missing libclang-rt-14-dev"
        [ -e /usr/lib/llvm-14/lib/libomp.so ] || missing="$missing libomp-14-dev" ;;
    *) echo "deps.sh: unknown option $opt (--torch, --slurm, --fmnist, --fuzz)" >&2; exit 2 ;;
    esac
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "vadbench: missing Debian packages:$missing" >&2
    echo "vadbench: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "vadbench: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# the package lists may be stale or absent on a fresh machine
$cmd >/dev/null 2>&1 || { apt-get update -q >/dev/null && $cmd; }
