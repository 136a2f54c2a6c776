#!/usr/bin/env bash
# Prepare the GPU checks for a device session (the device machine is bare and
# offline): build the CUDA binaries here for Hopper (sm_90), copy them with the
# shared libraries they need (not glibc's, which the device has) into
# .device/ (git-ignored), compressed to fit the device tool's 64 MiB.
# Then, with the device tool:  run  carry=[".device"]  command="bash scripts/gpu-check.sh"
# (scripts/gpu-check.sh unpacks, runs the tests and benchmarks that need a GPU,
# each under a time limit, and writes gpu-check.log and gpu-check.md under $OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/cuda/bin:$PATH
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DNF_REQUIRE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real >/dev/null
targets="neurofit bench_engine bench_sbi bench_fit_rate test_engine_cuda test_fit test_sbi_device" # what gpu-check.sh runs, and the CLI
cmake --build build-gpu -j"$(nproc)" --target neurofit_cli ${targets#neurofit }
rm -rf .device && mkdir -p .device/pack/bin .device/pack/lib
for t in $targets; do
    f=$(find build-gpu -maxdepth 2 -type f -name "$t" -perm -u+x | head -1)
    [ -n "$f" ] || { echo "gpu-pack: $t not built" >&2; exit 1; }
    cp "$f" .device/pack/bin/
done
strip .device/pack/bin/* 2>/dev/null || true
# libraries outside glibc (the device brings its own libc, libm, ld.so)
for b in .device/pack/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
    while read -r l; do cp -L "$l" .device/pack/lib/; done
tar -C .device -cJf .device/pack.tar.xz pack
rm -rf .device/pack
du -sh .device/pack.tar.xz
