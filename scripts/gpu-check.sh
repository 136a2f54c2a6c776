#!/usr/bin/env bash
# The device check: everything that needs a GPU, in one short run (about
# 7 minutes: each step has its own time limit, they add up to 415 s on one
# GPU, and a step that would end past 420 s from the start is cut to fit or
# skipped; the two-device steps run only where there are two GPUs).
#
#   on the device machine:  bash scripts/gpu-check.sh       (after scripts/gpu-pack.sh here)
#   with a local CUDA build: NF_BIN=build bash scripts/gpu-check.sh
#
# Binaries come from .device/pack.tar.xz (scripts/gpu-pack.sh) or from $NF_BIN.
# Every number goes to $OUT/gpu-check.log (all output, in order) and a summary
# ready for bench/RESULTS.md to $OUT/gpu-check.md:
#   1. the GPU (nvidia-smi);
#   2. CUDA against the CPU, every model, four index-path configurations and a
#      forced slice (tests/test_engine_cuda.c): identical simulations, equal
#      spike counts, max |dV|, max |dSSE|/SSE per model;
#   3. the fit's CUDA tests (test_fit --filter 'fit/cuda*');
#   4. bench_engine --backend cuda: kernel-only and whole-call neuron-steps/s
#      per model and the fraction of the H100 ceiling from the kernel time;
#   5. fit recordings/min, 100 recordings x 4 models at 1,000 evaluations on
#      CUDA, and the same per-recording work on 2 CPU threads (20 recordings:
#      issue 18's 2-core reference);
#   6. SBI on the device: the fused device path against the CPU bit for bit
#      (test_sbi_device), the preset 1e6 excluding disk (one 1e6 chunk), and
#      1e6 with --summaries-only (files written);
#   7. batches in flight: neurofit bench with the same simulations as 1 and
#      as 16 batches submitted before the first wait (async executor);
#   8. 1 vs 2 devices, where the machine has two: neurofit simulate on
#      --devices 0 and 0,1 (the files must be identical but meta.json) and
#      neurofit bench's rate on each.
# The summary ends with issue 18's "Done when" figures against their targets:
# kernel-only fraction of the H100 ceiling per model (>= 0.60), CUDA fit
# recordings/min over the 2-thread CPU's (>= 100x), SBI 1e6 wall (<= 1 s).
# Without a GPU (or without binaries, or with NF_GPU_CHECK_DRY_RUN=1) every
# step prints that it skipped, the summary says "not measured", and the script
# exits 0: a dry run (ctest gpu_check_dry_run).
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
log="$OUT/gpu-check.log"
md="$OUT/gpu-check.md"
: >"$log"
start=$(date +%s)
say() { echo "$*" | tee -a "$log"; }

# ---- binaries ----
B=""
if [ -n "${NF_BIN:-}" ]; then
    B="$NF_BIN"
elif [ -f .device/pack.tar.xz ]; then
    mkdir -p /tmp/nfpack && tar -C /tmp/nfpack -xJf .device/pack.tar.xz && B=/tmp/nfpack/pack/bin
    export LD_LIBRARY_PATH=/tmp/nfpack/pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
find_bin() { # name -> path ("" when absent); a build tree keeps tests in tests/
    for d in "$B" "$B/tests"; do [ -n "$B" ] && [ -x "$d/$1" ] && { echo "$d/$1"; return; }; done
    echo ""
}

# ---- is there a GPU? ----
skip=""
if [ -n "${NF_GPU_CHECK_DRY_RUN:-}" ]; then
    skip="dry run (NF_GPU_CHECK_DRY_RUN is set)"
elif ! command -v nvidia-smi >/dev/null 2>&1; then
    skip="no GPU (nvidia-smi not found)"
elif ! nvidia-smi -L >/dev/null 2>&1; then
    skip="no GPU (nvidia-smi -L failed)"
elif [ -z "$B" ]; then
    skip="no binaries (run scripts/gpu-pack.sh first, or set NF_BIN to a CUDA build directory)"
fi

# step NAME LIMIT_S OUTFILE CMD...: runs CMD under a time limit into OUTFILE and the log
step() {
    local name=$1 limit=$2 out=$3
    shift 3
    if [ -n "$skip" ]; then
        say "== $name: skipped: $skip"
        echo "skipped: $skip" >"$out"
        return
    fi
    local exe
    exe=$(find_bin "$1")
    if [ -z "$exe" ]; then
        say "== $name: skipped: $1 not in $B"
        echo "skipped: $1 missing" >"$out"
        return
    fi
    shift
    local left=$((420 - ($(date +%s) - start)))
    if [ "$left" -lt 10 ]; then
        say "== $name: skipped: out of the 420-second budget"
        echo "skipped: out of time" >"$out"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    say "== $name (limit ${limit} s): $exe $*"
    local t0 rc
    t0=$(date +%s)
    timeout -k 5 "$limit" "$exe" "$@" >"$out" 2>&1
    rc=$?
    cat "$out" >>"$log"
    say "== $name: exit $rc$([ $rc = 124 ] && echo ' (time limit)') after $(($(date +%s) - t0)) s"
}

say "gpu-check $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n)"
if [ -z "$skip" ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$log"
else
    say "== GPU: skipped: $skip"
fi

step "CUDA against the CPU, every model" 80 "$OUT/engine_cuda.txt" test_engine_cuda --verbose --jobs 1
step "fit on CUDA" 40 "$OUT/fit_cuda.txt" test_fit --filter 'fit/cuda*' --verbose
step "engine throughput, CUDA" 70 "$OUT/engine_cuda.md" bench_engine --backend cuda --sims 100000,1000000 \
    --steps 10000 --reps 2 --brian2 off
step "fit rate, CUDA, 100 recordings" 60 "$OUT/fit_rate_cuda.md" bench_fit_rate --backend cuda --recordings 100 \
    --budget 1000
step "fit rate, CPU (2 threads), 20 recordings" 35 "$OUT/fit_rate_cpu.md" bench_fit_rate --backend cpu --recordings 20 \
    --budget 1000 --threads 2
step "SBI on the device against the CPU" 30 "$OUT/sbi_device.txt" test_sbi_device --verbose --jobs 1
step "SBI preset 1e6, excluding disk" 35 "$OUT/sbi_cuda.md" bench_sbi 1000000 /tmp/nf_bench_sbi 0 cuda 1048576 memory-only
step "SBI preset 1e6, --summaries-only" 25 "$OUT/sbi_summaries.txt" neurofit sbi simulate --preset bayesflow-lif \
    --n 1000000 --seed 1 --backend cuda --chunk 1048576 --summaries-only --force --out /tmp/nf_sbi_so
step "batches in flight, CUDA (1 batch)" 20 "$OUT/batches_cuda.md" neurofit bench --backend cuda \
    --models lif6,hh --sims 16384 --steps 10000 --batches 1
step "batches in flight, CUDA (16 batches)" 20 "$OUT/batches16_cuda.md" neurofit bench --backend cuda \
    --models lif6,hh --sims 16384 --steps 10000 --batches 16
# 1 vs 2 devices: the same simulations on --devices 0 and 0,1 must give the
# same files (meta.json names the devices, so it is left out), and the rate
ndev=0
[ -z "$skip" ] && ndev=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
if [ -n "$skip" ]; then
    say "== 1 vs 2 devices: skipped: $skip"
    devices="not measured ($skip)"
elif [ "$ndev" -lt 2 ]; then
    devices="not measured: $ndev device here (needs two)"
    say "== 1 vs 2 devices: $devices"
else
    # the datasets (about 400 MB each) stay out of $OUT, which comes back to the caller
    simdir=/tmp/gpu-check-sim
    rm -rf "$simdir" && mkdir -p "$simdir"
    for d in 0 0,1; do
        f=${d/,/_} # no comma in a file name under $OUT
        step "simulate on devices $d" 30 "$OUT/sim_dev_$f.txt" neurofit simulate --model adex --sample-prior 100000 \
            --seed 3 --stimulus step:400,20,480 --dt 0.05 --duration 500 --record every:10 --backend cuda --devices $d \
            --out "$simdir/sim_dev_$f" --force
        step "engine throughput on devices $d" 30 "$OUT/bench_dev_$f.md" neurofit bench --backend cuda --models lif6,hh \
            --sims 1000000 --steps 5000 --devices $d
    done
    same=no
    if [ -d "$simdir/sim_dev_0" ] && [ -d "$simdir/sim_dev_0_1" ]; then
        a=$(cd "$simdir/sim_dev_0" && find . -type f ! -name meta.json | sort | xargs sha256sum)
        b=$(cd "$simdir/sim_dev_0_1" && find . -type f ! -name meta.json | sort | xargs sha256sum)
        [ -n "$a" ] && [ "$a" = "$b" ] && same=yes
    fi
    r1=$(awk -F'|' '/^\| lif6 \| cuda/ { print $8 + 0; exit }' "$OUT/bench_dev_0.md" 2>/dev/null)
    r2=$(awk -F'|' '/^\| lif6 \| cuda x2/ { print $8 + 0; exit }' "$OUT/bench_dev_0_1.md" 2>/dev/null)
    x=$(awk -v a="${r1:-0}" -v b="${r2:-0}" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    devices="identical files: $same; lif6 kernel rate 2 devices / 1: ${x}x"
    say "== 1 vs 2 devices: $devices"
fi

# ---- the summary for bench/RESULTS.md ----
# recordings/min of a bench_fit_rate table: the column so named in its header
fit_rate() {
    awk -F'|' '/^\| ranks \|/ { for (i = 2; i <= NF; i++) { h = $i; gsub(/^ +| +$/, "", h); if (h == "recordings/min") c = i } }
               /^\| [0-9]/ && c { print $c + 0; exit }' "$1" 2>/dev/null
}
nm() { [ -n "$skip" ] && echo "not measured ($skip)" || echo "$1"; }
{
    echo "## GPU check ($(date -u +%Y-%m-%d))"
    echo
    if [ -n "$skip" ]; then
        echo "Not measured: $skip. Every step skipped; nothing below is a measurement."
    else
        echo "Device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1);" \
            "$(nproc) CPU cores; scripts/gpu-check.sh, $(($(date +%s) - start)) s."
    fi
    echo
    echo "### CUDA against the CPU (tests/test_engine_cuda.c; tolerance: bit-identical)"
    echo
    echo "| model | paths | identical simulations | equal spike counts | spike-time diffs | validity diffs | max abs dV (mV) | max abs d final state | max abs dSSE / SSE |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    if grep -v '^engine_cuda: in flight' "$OUT/engine_cuda.txt" 2>/dev/null | grep -q '^engine_cuda: .* | '; then
        grep -v '^engine_cuda: in flight' "$OUT/engine_cuda.txt" | grep '^engine_cuda: .* | ' | sed -e 's/^engine_cuda: /| /' -e 's/ | memory limit forces launches//' \
            -e 's/identical //; s/equal spike counts //; s/spike-time diffs //; s/validity diffs //' \
            -e 's/max |dV| //; s/ mV | / | /; s/max |d final| //; s/max |dSSE|\/SSE //' -e 's/$/ |/'
    else
        echo "| all | - | $(nm "no result: see gpu-check.log") | | | | | | |"
    fi
    echo
    grep -h '^engine_cuda: .*noise' "$OUT/engine_cuda.txt" 2>/dev/null | sed 's/^engine_cuda: /- /'
    # batches in flight (37 per run, with and without kept inputs): how many equal the CPU
    awk '/^engine_cuda: in flight/ { k = /kept inputs/ ? "kept" : "plain"; n[k]++; split($NF, f, "/");
                                     if (f[1] == f[2]) ok[k]++ }
         END { for (k in n) printf "- batches in flight (%s inputs): %d of %d identical to the CPU\n", k, ok[k], n[k] }' \
        "$OUT/engine_cuda.txt" 2>/dev/null | sort
    echo
    echo "Tests: $(grep -h 'Synthesis' "$OUT/engine_cuda.txt" "$OUT/fit_cuda.txt" 2>/dev/null | tr '\n' ' ' || true)$(nm '')"
    echo
    echo "### Engine throughput on the GPU (bench_engine; kernel = cudaEvent time of the kernels alone)"
    echo
    if grep -q '^| [a-z_0-9]* | cuda | [0-9]' "$OUT/engine_cuda.md" 2>/dev/null; then
        grep '^| model |\|^|---' "$OUT/engine_cuda.md" | head -2
        grep '^| [a-z_0-9]* | cuda | [0-9]' "$OUT/engine_cuda.md"
    else
        echo "$(nm "no result: see gpu-check.log")"
    fi
    echo
    echo "### Fit rate (bench_fit_rate: 1 s sweeps, lif6/adex/izhikevich/hh, 1,000 evaluations each)"
    echo
    # bench_fit_rate's own header, with the backend in front
    hdr=$(grep -h '^| ranks |' "$OUT/fit_rate_cuda.md" "$OUT/fit_rate_cpu.md" 2>/dev/null | head -1)
    [ -n "$hdr" ] || hdr="| ranks | threads | recordings | samples | models | budget per (recording, model) | seconds | recordings/min |"
    echo "| backend $hdr"
    echo "|---$(echo "$hdr" | sed -e 's/[^|]//g' -e 's/|$//' -e 's/|/|---:/g')|"
    for b in cuda cpu; do
        row=$(grep -h '^| [0-9]' "$OUT/fit_rate_$b.md" 2>/dev/null | head -1)
        if [ -n "$row" ]; then echo "| $b $row"; else echo "| $b | $(nm "no result: see gpu-check.log") |"; fi
    done
    echo
    echo "### SBI preset bayesflow-lif, 1e6 simulations into memory (bench_sbi memory-only)"
    echo
    row=$(grep -h '^| simulate, excluding disk' "$OUT/sbi_cuda.md" 2>/dev/null)
    if [ -n "$row" ]; then
        echo "| step | N | wall s | per simulation | note |"
        echo "|---|---:|---:|---:|---|"
        echo "$row"
    else
        echo "$(nm "no result: see gpu-check.log")"
    fi
    echo
    echo "SBI on the device against the CPU (tests/test_sbi_device.c): $(grep -h 'Synthesis' "$OUT/sbi_device.txt" 2>/dev/null || nm 'no result: see gpu-check.log')"
    echo
    echo "--summaries-only, 1e6 (files written, 20 bytes per simulation from the device): $(grep -ho 'wrote [0-9]* simulations.*' "$OUT/sbi_summaries.txt" 2>/dev/null || nm 'no result: see gpu-check.log')"
    echo
    echo "### Batches in flight (neurofit bench --batches 1 and 16, 16,384 sims x 10,000 steps: small batches, where overlap matters)"
    echo
    if grep -q '^| [a-z_0-9]* | cuda' "$OUT/batches_cuda.md" 2>/dev/null; then
        grep '^| model |\|^|---' "$OUT/batches_cuda.md" | head -2
        grep -h '^| [a-z_0-9]* | cuda' "$OUT/batches_cuda.md" "$OUT/batches16_cuda.md"
    else
        echo "$(nm "no result: see gpu-check.log")"
    fi
    echo
    echo "### Issue 18's targets"
    echo
    echo "| what | measured | target | met |"
    echo "|---|---:|---:|---|"
    # kernel-only fraction of the H100 ceiling: the largest unscored batch of each model
    fr=$(grep -h '^| [a-z_0-9]* | cuda | [0-9]' "$OUT/engine_cuda.md" 2>/dev/null |
        awk -F'|' '$6 ~ /none/ { m = $2; gsub(/ /, "", m); n = $4 + 0; split($12, f, " ");
                                 if (n >= best[m]) { best[m] = n; v[m] = f[1] } }
                   END { for (m in v) print m, v[m] }' | sort)
    if [ -n "$fr" ]; then
        echo "$fr" | while read -r m f; do
            echo "| $m: kernel-only fraction of the H100 ceiling | $f | >= 0.60 | $(awk -v f="$f" 'BEGIN { print (f + 0 >= 0.6) ? "yes" : "no" }') |"
        done
    else
        echo "| kernel-only fraction of the H100 ceiling | $(nm "no result") | >= 0.60 | - |"
    fi
    rc=$(fit_rate "$OUT/fit_rate_cuda.md")
    rp=$(fit_rate "$OUT/fit_rate_cpu.md")
    if [ -n "$rc" ] && [ -n "$rp" ] && awk -v p="$rp" 'BEGIN { exit !(p > 0) }'; then
        x=$(awk -v c="$rc" -v p="$rp" 'BEGIN { printf "%.1f", c / p }')
        echo "| fit recordings/min, CUDA / CPU 2 threads ($rc / $rp) | ${x}x | >= 100x | $(awk -v x="$x" 'BEGIN { print (x >= 100) ? "yes" : "no" }') |"
    else
        echo "| fit recordings/min, CUDA / CPU 2 threads | $(nm "no result") | >= 100x | - |"
    fi
    sw=$(awk -F'|' '/^\| simulate, excluding disk/ { print $4 + 0; exit }' "$OUT/sbi_cuda.md" 2>/dev/null)
    if [ -n "$sw" ]; then
        echo "| SBI preset 1e6, excluding disk (s) | $sw | <= 1 | $(awk -v s="$sw" 'BEGIN { print (s <= 1) ? "yes" : "no" }') |"
    else
        echo "| SBI preset 1e6, excluding disk | $(nm "no result") | <= 1 s | - |"
    fi
    echo "| 1 vs 2 devices | $devices | identical results, ~2x | - |"
} >"$md"
cat "$md"
say "gpu-check: done in $(($(date +%s) - start)) s; summary $md, everything $log"
