#!/usr/bin/env bash
# scripts/gpu-check.sh against a fake device: nvidia-smi and the binaries are
# stand-ins that print rows in the formats of the real ones, so that the
# summary's parsing and its verdicts against issue 18's targets are checked
# without a GPU. usage: gpu_check_fake.sh WORKDIR (run from the source root)
set -u
w=$1
rm -rf "$w" && mkdir -p "$w/bin" || exit 1
cd "$w/bin" || exit 1
cat >nvidia-smi <<'X'
#!/bin/sh
case "$1" in -L) echo "GPU 0: Fake (UUID: 0)"; echo "GPU 1: Fake (UUID: 1)";; *) echo "Fake, 1.0, 80000 MiB, 1980 MHz";; esac
X
cat >bench_engine <<'X'
#!/bin/sh
echo "| lif6 | cuda | 100000 | 10000 | none | 0.1 | 1e10 | 0.05 | 2e10 | - | 0.40 (0.30) |"
echo "| lif6 | cuda | 1000000 | 10000 | none | 0.5 | 2e10 | 0.3 | 3e10 | - | 0.65 (0.50) |"
echo "| lif6 | cuda | 1000000 | 10000 | rmse | 0.5 | 2e10 | 0.3 | 3e10 | - | 0.55 (0.50) |"
echo "| hh | cuda | 1000000 | 10000 | none | 0.5 | 2e10 | 0.3 | 3e10 | - | 0.45 (0.40) |"
X
cat >bench_fit_rate <<'X'
#!/bin/sh
echo "| ranks | threads | recordings | samples | models | budget per (recording, model) | seconds | recordings/min | neuron-steps/s | adex ranked first | max in flight | mean in flight |"
echo "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
case "$*" in *cuda*) echo "| 1 | 16 | 100 | 10001 | lif6,adex | 1000 | 3.0 | 2000.0 | 1e10 | 1/1 | 400 | 300 |";;
             *"--threads 2"*) echo "| 1 | 2 | 20 | 10001 | lif6,adex | 1000 | 60.0 | 15.5 | 1e8 | 1/1 | 8 | 8 |";; esac
X
printf '#!/bin/sh\necho "| simulate, excluding disk | 1000000 | 1.25 | 1.25 us | - |"\n' >bench_sbi
cat >neurofit <<'X'
#!/bin/sh
case "$1" in
bench) case "$*" in
       *"--batches 16"*) echo "| lif6 | cuda | 16384 | 10000 | none | 2e10 | 3e10 | 0.62 | 16 | 16384 |";;
       *"--batches"*) echo "| lif6 | cuda | 16384 | 10000 | none | 1e10 | 3e10 | 0.62 | 1 | 16384 |";;
       *"0,1"*) echo "| lif6 | cuda x2 | 1000000 | 5000 | none | 3e10 | 5.8e10 | 0.60 | 1 | 1000000 |";;
       *) echo "| lif6 | cuda | 1000000 | 5000 | none | 2e10 | 3e10 | 0.62 | 1 | 1000000 |";; esac;;
sbi) echo "neurofit sbi: wrote 1000000 simulations of lif6 to /tmp/nf_sbi_so in 0.80 s (cuda backend)" >&2;;
simulate) while [ $# -gt 0 ]; do [ "$1" = --out ] && o=$2; shift; done
          mkdir -p "$o" && echo same >"$o/voltage.npy" && date >"$o/meta.json";;
esac
X
cat >test_engine_cuda <<'X'
#!/bin/sh
echo "engine_cuda: lif6 | waves per-sim | identical 150/150 | equal spike counts 150/150 | spike-time diffs 0 | validity diffs 0 | max |dV| 0 mV | max |d final| 0 | max |dSSE|/SSE 0"
echo "engine_cuda: in flight: batch 0 lif6 | identical 64/64"
echo "engine_cuda: in flight: batch 1 adex | identical 63/64"
echo "engine_cuda: in flight (kept inputs): batch 0 lif6 | identical 64/64"
echo "Synthesis: ok"
X
printf '#!/bin/sh\necho Synthesis: ok\n' >test_fit
cp test_fit test_sbi_device
chmod +x ./*
cd - >/dev/null || exit 1
PATH="$w/bin:$PATH" NF_BIN="$w/bin" OUT="$w/out" bash scripts/gpu-check.sh >"$w/run.txt" 2>&1 || { cat "$w/run.txt"; exit 1; }
md="$w/out/gpu-check.md"
cat "$md"
fail=0
want() { grep -qF -- "$1" "$md" || { echo "missing from the summary: $1"; fail=1; }; }
want "| lif6: kernel-only fraction of the H100 ceiling | 0.65 | >= 0.60 | yes |"
want "| hh: kernel-only fraction of the H100 ceiling | 0.45 | >= 0.60 | no |"
want "| fit recordings/min, CUDA / CPU 2 threads (2000 / 15.5) | 129.0x | >= 100x | yes |"
want "| cuda | 1 | 16 | 100 | 10001 | lif6,adex | 1000 | 3.0 | 2000.0 | 1e10 | 1/1 | 400 | 300 |"
want "| SBI preset 1e6, excluding disk (s) | 1.25 | <= 1 | no |"
want "--summaries-only, 1e6 (files written, 20 bytes per simulation from the device): wrote 1000000 simulations of lif6 to /tmp/nf_sbi_so in 0.80 s (cuda backend)"
want "- batches in flight (kept inputs): 1 of 1 identical to the CPU"
want "- batches in flight (plain inputs): 1 of 2 identical to the CPU"
if grep -q "^| in flight" "$md"; then echo "an in-flight line went into the per-model table"; fail=1; fi
want "| 1 vs 2 devices | identical files: yes; lif6 kernel rate 2 devices / 1: 1.93x |"
want "| lif6 | cuda | 16384 | 10000 | none | 2e10 | 3e10 | 0.62 | 16 | 16384 |"
if grep -q "not measured (" "$md"; then echo "a step of the fake device said not measured"; fail=1; fi
exit $fail
