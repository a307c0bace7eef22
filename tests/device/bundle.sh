#!/bin/sh
# bundle.sh: `make device-bundle` — a self-contained folder for the GPU
# machine (which has a driver, CUDA's and PyTorch's libraries, python3 with
# torch, but no Debian packages and no network): the CUDA build's vadbench
# and vbtest, every shared library they load that such a machine may lack
# (Debian's libarchive, sqlite, OpenBLAS, libfyaml, spng, jansson,
# criterion and their dependencies; not the C/C++ runtime, which any Linux
# with Python has, nor cuBLAS/cuDNN, which tests/device/run.sh finds in
# PyTorch's wheels), the test fixtures, the experiment files, the PyTorch
# twin and tests/device/run.sh; then packed as BUNDLE.tar.xz. Checks that
# every library resolves inside the bundle (or is the system runtime or a
# CUDA library) and that the archive is under 64 MiB.
#   sh tests/device/bundle.sh VARIANT_DIR BUNDLE_DIR
set -eu
variant=$1
out=$2
limit=$((64 * 1024 * 1024))
rm -rf "$out" "$out.tar.xz"
mkdir -p "$out/lib" "$out/tests/device" "$out/tests/reference" "$out/tests/tmp"
cp "$variant/vadbench" "$variant/vbtest" "$out/"
strip --strip-debug "$out/vadbench" "$out/vbtest" # symbols stay for backtraces
cp -r tests/fixtures tests/bad_experiments "$out/tests/"
cp tests/reference/bench_torch.py tests/reference/twin.py "$out/tests/reference/"
cp tests/device/run.sh "$out/tests/device/"
cp -r experiments "$out/"

system_lib() { # the C/C++ runtime and the CUDA libraries: not carried
    case "$1" in
    linux-vdso.so* | ld-linux* | libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | \
        libresolv.so* | libstdc++.so* | libgcc_s.so* | libcudnn* | libcublas* | libcudart* | \
        libnvrtc* | libcuda.so*) return 0 ;;
    esac
    return 1
}

ldd "$out/vadbench" "$out/vbtest" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
    while read -r name path; do
        system_lib "$name" || cp -L "$path" "$out/lib/$name"
    done

# every library must now resolve inside the bundle, or be the system runtime or CUDA
bad=$(LD_LIBRARY_PATH="$out/lib" ldd "$out/vadbench" "$out/vbtest" | awk -v lib="$out/lib/" '
    $2 == "=>" {
        if ($3 == "not") { print $1 " (not found)"; next }
        if (index($3, lib) == 1) next
        print $1 " " $3
    }' | sort -u | while read -r name rest; do system_lib "$name" || echo "$name $rest"; done)
if [ -n "$bad" ]; then
    echo "device-bundle: libraries not resolved inside the bundle:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "device-bundle: $(ls "$out/lib" | wc -l) libraries carried; outside the bundle only:"
LD_LIBRARY_PATH="$out/lib" ldd "$out/vadbench" "$out/vbtest" | awk -v lib="$out/lib/" \
    '$2 == "=>" && index($3, lib) != 1 {print "  " $1}' | sort -u | tr '\n' ' '
echo
tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
folder=$(du -sb "$out" | cut -f1)
packed=$(stat -c %s "$out.tar.xz")
echo "device-bundle: $out $((folder / 1048576)) MiB unpacked, $out.tar.xz $((packed / 1048576)) MiB" \
    "($packed bytes; the device machine takes 64 MiB)"
if [ "$packed" -ge "$limit" ]; then
    echo "device-bundle: $out.tar.xz is over 64 MiB" >&2
    exit 1
fi
