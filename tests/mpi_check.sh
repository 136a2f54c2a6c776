#!/usr/bin/env bash
# The MPI layer against one process (issue 23; ctest `mpi`, in a build with
# the MPI layer): `mpirun -np 3` must give the bytes of `-np 1` and of a run
# without mpirun.
#
#   1. fit, 3 recordings x 2 models (--group sweep): -np 3, -np 1 and one
#      process write the same results.json (but its seconds), results.csv,
#      sweeps.csv, best_traces.npy, report.html and model_traces.npy; and two
#      cells of a manifest, each with a held-out sweep, x 3 models (a survey
#      and a refinement): -np 2 and one process the same;
#   2. sbi simulate, 1e5 bayesflow-lif simulations: -np 3, -np 1 and one
#      process write the same bytes (meta.json included: the runs share
#      their command line);
#   (every output set of a job holds the names of the one-process run's: no
#   checkpoint, stage, journal or lock left behind)
#   3. sbi sbc (a small run): -np 3 and one process write the same bytes;
#   4. a rank killed (SIGKILL) mid-fit, 3 recordings x 3 models (survey and
#      refinement): the job fails, and --resume with -np 2 ends with the
#      uninterrupted result, every output byte but the seconds;
#   5. a failing rank: rank 2 on a backend it does not have (--backend cuda
#      in a build or on a machine without CUDA): exit status not 0, rank 0
#      names rank 2, its host and the message, the checkpoints stay and
#      --resume without the failing rank ends with the uninterrupted result;
#   6. a rank that fails before the job (a prior file it cannot read): rank 0
#      names it, exit status 2.
#
# usage: tests/mpi_check.sh NEUROFIT MPIRUN [WORKDIR [SCALE]]   (from the project root)
# SCALE (default 1) scales the budgets and the dataset: the sanitizer build's
# ctest runs it at 0.25, where every process is several times slower.
set -euo pipefail
NF=$(realpath "$1")
MPIRUN=$2
W=${3:-$(mktemp -d /tmp/nf-mpi.XXXXXX)}
SCALE=${4:-1}
rm -rf "$W" && mkdir -p "$W"
scaled() { awk -v x="$1" -v s="$SCALE" 'BEGIN { printf "%d", x * s }'; }
M=(--oversubscribe)
[ "$(id -u)" = 0 ] && M+=(--allow-run-as-root)
mpi() { "$MPIRUN" "${M[@]}" "$@"; }
data=$PWD/tests/data/abf/File_axon_5.abf
fail() { echo "FAIL: $*"; exit 1; }

# the same names in two output sets, hidden ones included: no checkpoint, stage, journal or lock left
same_names() {
  [ "$(ls -A "$1")" = "$(ls -A "$2")" ] || fail "$1 holds $(ls -A "$1" | tr '\n' ' '), $2 $(ls -A "$2" | tr '\n' ' ')"
}

# every output of two fits the same, results.json but for its seconds
same_fit() {
  for f in results.csv sweeps.csv best_traces.npy report.html model_traces.npy; do
    [ -e "$1/$f" ] || [ -e "$2/$f" ] || continue
    cmp "$1/$f" "$2/$f" || fail "$1/$f and $2/$f differ"
  done
  diff <(grep -v '"seconds"' "$1/results.json") <(grep -v '"seconds"' "$2/results.json") >/dev/null ||
    fail "$1/results.json and $2/results.json differ"
  same_names "$1" "$2"
  echo "   same outputs: $1 $2"
}

echo "== 1. fit, 3 recordings x 2 models: -np 3 = -np 1 = one process; two cells with held-out sweeps"
FIT=(fit "$data" --group sweep --sweeps 6-8 --models lif6,adex --budget "$(scaled 1500)" --threads 1 --all-traces
     --quiet)
"$NF" "${FIT[@]}" --out "$W/fit0" >/dev/null
mpi -np 1 "$NF" "${FIT[@]}" --out "$W/fit1" >/dev/null
mpi -np 3 "$NF" "${FIT[@]}" --out "$W/fit3" >/dev/null
same_fit "$W/fit0" "$W/fit1"
same_fit "$W/fit0" "$W/fit3"
printf 'cell,file,sweeps,role\na,%s,5-6,train\na,%s,7,test\nb,%s,6,train\nb,%s,8,train\nb,%s,7,test\n' \
  "$data" "$data" "$data" "$data" "$data" >"$W/cells.csv"
CELLS=(fit --cells "$W/cells.csv" --models lif6,adex,izhikevich --budget "$(scaled 900)" --threads 1 --quiet)
"$NF" "${CELLS[@]}" --out "$W/cells0" >/dev/null
mpi -np 2 "$NF" "${CELLS[@]}" --out "$W/cells2" >/dev/null
same_fit "$W/cells0" "$W/cells2"

echo "== 2. sbi simulate, $(scaled 100000) simulations: -np 3 = -np 1 = one process, byte for byte"
SBI=(sbi simulate --preset bayesflow-lif --n "$(scaled 100000)" --seed 7 --threads 1 --chunk 8192 --quiet --out "$W/sbi")
"$NF" "${SBI[@]}"
mv "$W/sbi" "$W/sbi0"
mpi -np 1 "$NF" "${SBI[@]}"
mv "$W/sbi" "$W/sbi1"
mpi -np 3 "$NF" "${SBI[@]}"
for f in theta.npy x.npy stimulus.npy valid.npy meta.json; do
  cmp "$W/sbi0/$f" "$W/sbi1/$f" || fail "sbi simulate: $f differs between one process and -np 1"
  cmp "$W/sbi0/$f" "$W/sbi/$f" || fail "sbi simulate: $f differs between one process and -np 3"
done
same_names "$W/sbi0" "$W/sbi1"
same_names "$W/sbi0" "$W/sbi"
rm -rf "$W/sbi0" "$W/sbi1" "$W/sbi" # 400 MB each
echo "   same bytes: theta.npy x.npy stimulus.npy valid.npy meta.json"

echo "== 3. sbi sbc: -np 3 = one process, byte for byte"
SBC=(sbi sbc --preset bayesflow-lif --draws 30 --reference 3000 --posterior-samples 20 --predictive 5 --threads 1 --quiet)
"$NF" "${SBC[@]}" --out "$W/sbc0" >/dev/null
mpi -np 3 "$NF" "${SBC[@]}" --out "$W/sbc3" >/dev/null
for f in sbc.json sbc_ranks.svg sbc_ecdf.svg sbc_recovery.svg; do
  cmp "$W/sbc0/$f" "$W/sbc3/$f" || fail "sbi sbc: $f differs"
done
same_names "$W/sbc0" "$W/sbc3"
echo "   same bytes: sbc.json and the three SVGs"

echo "== 4. a rank killed mid-fit; --resume with -np 2 gives the uninterrupted result"
KFIT=(fit "$data" --group sweep --sweeps 6-8 --models lif6,adex,izhikevich --budget "$(scaled 8000)" --threads 1)
"$NF" "${KFIT[@]}" --quiet --out "$W/kref" >/dev/null
mpi -np 3 "$NF" "${KFIT[@]}" --out "$W/kill" >"$W/kill.log" 2>&1 &
job=$!
trap 'kill "$job" 2>/dev/null || true' EXIT
ck="$W/kill/checkpoint/dist"
for _ in $(seq 600); do   # until two chunks have checkpoints (at most 60 s)
  n=$( (ls "$ck"/c*/state.json 2>/dev/null || true) | wc -l)
  [ "$n" -ge 2 ] && break
  sleep 0.1
done
[ "$n" -ge 2 ] || fail "no chunk checkpoints in $ck after 60 s"
victim=""
for p in $( (pgrep -P "$job"; pgrep -P "$(pgrep -P "$job" | head -1)") 2>/dev/null || true); do
  if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
[ -n "$victim" ] || fail "rank 1's process not found"
kill -9 "$victim"
rc=0; wait "$job" || rc=$?
trap - EXIT
[ "$rc" != 0 ] || fail "the job with a killed rank exited 0"
echo "   killed rank 1 (pid $victim) with $n chunk checkpoints; mpirun exited $rc"
ls -d "$ck"/c* >/dev/null || fail "no checkpoints left in $ck"
mpi -np 2 "$NF" "${KFIT[@]}" --quiet --out "$W/kill" --resume >/dev/null
same_fit "$W/kref" "$W/kill"

echo "== 5. a failing rank: rank 2 without the backend it asks for"
FFIT=(fit "$data" --group sweep --sweeps 6-8 --models lif6,adex,izhikevich --budget "$(scaled 3000)" --threads 1 --quiet --out "$W/bad")
rc=0
mpi -np 2 "$NF" "${FFIT[@]}" --backend cpu : -np 1 "$NF" "${FFIT[@]}" --backend cuda >"$W/bad.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a job with a failing rank exited 0"
grep -q "^neurofit fit: rank 2 (host $(hostname)" "$W/bad.log" || grep -q "^neurofit fit: rank 2 (host " "$W/bad.log" ||
  { cat "$W/bad.log"; fail "rank 0 did not name rank 2 and its host"; }
grep "^neurofit fit: rank 2" "$W/bad.log" | sed 's/^/   /'
[ -f "$W/bad/checkpoint/dist/job.json" ] || fail "the checkpoint is gone"
[ ! -e "$W/bad/results.json" ] || fail "a failed job wrote results"
mpi -np 3 "$NF" "${FFIT[@]}" --backend cpu --resume >/dev/null
"$NF" fit "$data" --group sweep --sweeps 6-8 --models lif6,adex,izhikevich --budget "$(scaled 3000)" --threads 1 --quiet \
  --out "$W/badref" >/dev/null
same_fit "$W/badref" "$W/bad"

echo "== 6. a rank that fails before the job: rank 0 names it"
echo '{"params": {"C_m": {"family": "uniform", "lo": 100, "hi": 200}}}' >"$W/prior.json"
P=(sbi simulate --model lif6 --dt 0.1 --duration 50 --n 1000 --quiet --out "$W/pri")
rc=0
mpi -np 2 "$NF" "${P[@]}" --prior "@$W/prior.json" : -np 1 "$NF" "${P[@]}" --prior "@$W/missing.json" >"$W/pri.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$W/pri.log"; fail "exit status $rc, not 2"; }
grep -q "^neurofit sbi simulate: rank 2 (host .*missing.json" "$W/pri.log" ||
  { cat "$W/pri.log"; fail "rank 0 did not name rank 2's missing prior file"; }
grep "^neurofit sbi simulate: rank 2" "$W/pri.log" | sed 's/^/   /'
[ ! -e "$W/pri/meta.json" ] || fail "a failed job wrote a dataset"

rm -rf "$W"
echo "mpi_check: all passed"
