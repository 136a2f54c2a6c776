#!/usr/bin/env bash
# Runs on the device machine (see scripts/gpu-pack.sh): the CUDA tests and the
# GPU benchmarks, each under a time limit, output into $OUT (at most 8 files
# come back). About 5 minutes on an H100/H200.
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT" /tmp/nfpack
tar -C /tmp/nfpack -xJf .device/pack.tar.xz
B=/tmp/nfpack/pack/bin
export LD_LIBRARY_PATH=/tmp/nfpack/pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
log="$OUT/checks.txt"
{
    date -u; uname -a; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    echo "== CUDA tests"
    timeout 120 "$B/test_engine_cuda" --verbose 2>&1 | grep -E "^\[(PASS|FAIL|SKIP|====)|ssert" ; echo "rc ${PIPESTATUS[0]}"
    timeout 180 "$B/test_fit" --filter 'fit/cuda*' --verbose 2>&1 | grep -v "Test is disabled" | grep -E "^\[(PASS|FAIL|SKIP|====)|ssert" ; echo "rc ${PIPESTATUS[0]}"
} > "$log" 2>&1
timeout 150 "$B/bench_engine" --backend cuda --sims 10000,100000,1000000 --steps 10000 --reps 2 > "$OUT/engine_cuda.md" 2>&1
timeout 90 "$B/bench_sbi" 1000000 /tmp/nf_bench_sbi 0 cuda 65536 > "$OUT/sbi_cuda.md" 2>&1
timeout 120 "$B/bench_fit_rate" --backend cuda > "$OUT/fit_rate_cuda.md" 2>&1
{
    echo "== neurofit sbi simulate --preset bayesflow-lif --n 1000000 --backend cuda (to local disk)"
    /usr/bin/time -v "$B/neurofit" sbi simulate --preset bayesflow-lif --n 1000000 --backend cuda --out /tmp/nf_sim --quiet 2>&1 |
        grep -Ev "^\s+(Average|Exit|Page|File|Socket|Signals|Swaps|Voluntary|Involuntary|Major|Minor|Percent|System|User|Command)"
} >> "$log" 2>&1
cat "$log"
