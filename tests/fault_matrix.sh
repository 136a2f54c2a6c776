#!/usr/bin/env bash
# The output-set promise of every writing command, end to end (ctest
# fault_matrix): for each of fit, simulate, sbi simulate, sbi infer, sbi sbc,
# predict and export,
#   - disk full: an earlier complete set in a small tmpfs, the disk then filled
#     to leave 0 B .. 256 KiB, a larger run with --force: exit 1 (never a
#     crash), the earlier set byte-identical, no stage or lock file left; and
#     into a fresh --out: nothing left that looks like results (a fit keeps
#     only a checkpoint it can --resume from, and says so), the rerun completes;
#   - two writers: the first stopped (SIGSTOP) while it holds --out, a second
#     into the same --out is refused at once (exit 1) naming the first's pid,
#     the first then completes its set;
#   - --force leaves no stale file: a set with an extra file (model_traces.npy,
#     stimulus.npy, voltage.npy, ...) replaced by one without it.
# And for fit, the crafted checkpoint: a state.json whose snapshot is
# "../../victim" is refused by --resume and nothing outside --out is touched.
#
# usage: fault_matrix.sh NEUROFIT TESTDATA
# The disk-full part needs a tmpfs of its own: as root (CI) in a private mount
# namespace (unshare -m), else in an unprivileged user namespace (unshare -rm);
# when neither works it is skipped with the reason, unless NF_REQUIRE_TMPFS=1
# (CI), which makes that a failure.
set -uo pipefail
NF=$(realpath "$1")
DATA=$(realpath "$2")
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# The state of a directory: every name (hidden ones too) with its content's
# hash; a fit's checkpoint (the resumable state of the failed run, not part of
# the earlier set) left out.
state() { (cd "$1" 2>/dev/null && find . -mindepth 1 -path ./checkpoint -prune -o -print | LC_ALL=C sort |
    while read -r f; do
        if [ -d "$f" ]; then echo "$f/"; else echo "$f $(sha256sum < "$f" | cut -c1-16)"; fi; done); }

# ---- the commands: an earlier (small) set, a larger one, and inputs ---------------------------
# args NAME VARIANT OUT sets ARGS, the arguments of neurofit; VARIANT: small | large (more
# output) | long (a second or two) | extra | noextra (the set with and without one file)
args() {
    local name=$1 v=$2 out=$3 abf=$DATA/abf/2020_03_02_0000.abf a
    case "$name" in
    fit)
        a=(fit --example --refine 0 --quiet)
        case $v in
        small | noextra) ARGS=("${a[@]}" --models lif6 --budget 200) ;;
        large) ARGS=("${a[@]}" --models lif6,adex,izhikevich --budget 200 --all-traces) ;;
        long) ARGS=("${a[@]}" --models hh --budget 200) ;;
        extra) ARGS=("${a[@]}" --models lif6 --budget 200 --all-traces) ;;
        esac ;;
    simulate)
        a=(simulate --model lif6 --stimulus step:300,10,90 --dt 0.1)
        case $v in
        small | extra) ARGS=("${a[@]}" --sample-prior 10 --duration 100) ;;
        large) ARGS=("${a[@]}" --sample-prior 400 --duration 300) ;;
        long) ARGS=("${a[@]}" --sample-prior 100000 --duration 1000 --record none) ;;
        noextra) ARGS=("${a[@]}" --sample-prior 10 --duration 100 --record none) ;;
        esac ;;
    sbi-simulate)
        a=(sbi simulate --preset bayesflow-lif --quiet)
        case $v in
        small | extra) ARGS=("${a[@]}" --n 20) ;;
        large) ARGS=("${a[@]}" --n 1500) ;;
        long) ARGS=("${a[@]}" --n 6000 --no-stimulus-file) ;;
        noextra) ARGS=("${a[@]}" --n 20 --no-stimulus-file) ;;
        esac ;;
    sbi-infer)
        a=(sbi infer --reference bayesflow-lif --observed "$WORK/observed.npy" --quiet)
        case $v in
        small) ARGS=("${a[@]}" --reference-n 1000 --samples 10) ;;
        large) ARGS=("${a[@]}" --reference-n 1000 --samples 20000) ;;
        long) ARGS=("${a[@]}" --reference-n 2000 --samples 10) ;;
        esac ;;
    sbi-sbc)
        a=(sbi sbc --preset bayesflow-lif --quiet --predictive 2)
        case $v in
        small) ARGS=("${a[@]}" --draws 10 --posterior-samples 9 --reference 1000) ;;
        large) ARGS=("${a[@]}" --draws 200 --posterior-samples 99 --reference 2000) ;;
        long) ARGS=("${a[@]}" --draws 20 --posterior-samples 99 --reference 2000) ;;
        esac ;;
    predict)
        a=(predict "$WORK/fitres/results.json" "$abf" --quiet)
        case $v in
        small | noextra) ARGS=("${a[@]}" --sweeps 0) ;;
        large) ARGS=("${a[@]}" --sweeps 0-7 --all-traces) ;;
        long) ARGS=("${a[@]}" "$DATA/abf/File_axon_5.abf" --all-traces) ;;
        extra) ARGS=("${a[@]}" --sweeps 0 --all-traces) ;;
        esac ;;
    export)
        case $v in
        small) ARGS=(export "$abf" --sweeps 0) ;;
        large) ARGS=(export "$abf" --sweeps 0-3 --format csv) ;;
        long) ARGS=(export "$abf" --format csv) ;;
        extra) ARGS=(export "$abf" --sweeps 0-2 --format csv) ;;
        noextra) ARGS=(export "$abf" --sweeps 0 --format csv) ;;
        esac ;;
    esac
    ARGS+=(--out "$out")
}
# run_cmd NAME VARIANT OUT [more arguments]: its stdout goes away
run_cmd() {
    args "$1" "$2" "$3"
    shift 3
    "$NF" "${ARGS[@]}" "$@" >/dev/null
}
COMMANDS=(fit simulate sbi-simulate sbi-infer sbi-sbc predict export)
marker() { case $1 in fit | predict) echo results.json ;; sbi-infer) echo posterior.json ;; sbi-sbc) echo sbc.json ;;
    *) echo meta.json ;; esac; }
# the file an "extra" set has and a "noextra" one lacks
extra_file() { case $1 in fit | predict) echo model_traces.npy ;; simulate) echo voltage.npy ;;
    sbi-simulate) echo stimulus.npy ;; export) echo sweeps/sweep_0002.csv ;; esac; }


# ---- disk full ------------------------------------------------------------------------------
disk_full() { # runs where $1 is a fresh tmpfs of 8 MiB
    local mnt=$1
    for c in "${COMMANDS[@]}"; do
        local out=$mnt/$c
        rm -rf "${mnt:?}"/*
        if ! run_cmd "$c" small "$out" 2>"$WORK/err"; then fail "$c: the earlier set: $(cat "$WORK/err")"; continue; fi
        local before
        before=$(state "$out")
        local n_fail=0 done_ok=0
        for free in 0 4096 16384 65536 262144; do
            rm -f "$mnt/filler"
            local avail
            avail=$(df --output=avail -B1 "$mnt" | tail -1)
            [ "$avail" -gt "$free" ] && head -c $((avail - free)) /dev/zero >"$mnt/filler" 2>/dev/null
            run_cmd "$c" large "$out" --force 2>"$WORK/err"
            local rc=$?
            if [ $rc = 0 ]; then done_ok=1; break; fi
            n_fail=$((n_fail + 1))
            [ $rc = 1 ] || fail "$c: disk full with $free B free: exit $rc (want 1): $(head -c 300 "$WORK/err")"
            grep -qi "space\|write\|cannot" "$WORK/err" || fail "$c: disk full: no clear message: $(head -c 300 "$WORK/err")"
            [ "$(state "$out")" = "$before" ] || fail "$c: disk full with $free B free: the earlier set changed"
        done
        rm -f "$mnt/filler"
        [ $n_fail -ge 1 ] || fail "$c: the disk was never full"
        if [ $done_ok = 0 ]; then
            run_cmd "$c" large "$out" --force 2>"$WORK/err" || fail "$c: with room: $(head -c 300 "$WORK/err")"
        fi
        [ -e "$out/$(marker "$c")" ] || fail "$c: the new set has no $(marker "$c")"
        ls -A "$out" | grep -q '^\.neurofit' && fail "$c: a stage or lock file is left: $(ls -A "$out")"
        ok "$c: disk full at $n_fail fill levels: exit 1, the earlier set byte-identical"
        # into a fresh --out, with no room at all and with a little: nothing that looks like results, so
        # a rerun is not refused (a fit keeps the last checkpoint it saved, if any: the message and the
        # rerun's refusal say --resume, which completes it; a half-saved first one is removed)
        local fresh=$mnt/fresh-$c avail before_fails=$fails left said=""
        for free in 0 16384; do
            rm -rf "$fresh" "$out"
            avail=$(df --output=avail -B1 "$mnt" | tail -1)
            head -c $((avail - free)) /dev/zero >"$mnt/filler" 2>/dev/null
            run_cmd "$c" large "$fresh" 2>"$WORK/err"
            rc=$?
            rm -f "$mnt/filler"
            [ $rc = 1 ] || fail "$c: disk full into a fresh --out: exit $rc (want 1): $(head -c 300 "$WORK/err")"
            left=""
            [ "$c" = fit ] && [ -e "$fresh/checkpoint/state.json" ] && left=checkpoint
            [ "$(ls -A "$fresh" 2>/dev/null | tr '\n' ' ')" = "${left:+$left }" ] ||
                fail "$c: $free B free, a fresh --out left: $(ls -A "$fresh" | tr '\n' ' ') (want: ${left:-nothing})"
            if [ -n "$left" ]; then
                grep -q -- "--resume" "$WORK/err" || fail "fit: the failed run does not say --resume: $(cat "$WORK/err")"
                run_cmd "$c" large "$fresh" 2>"$WORK/err"
                [ $? = 2 ] && grep -q -- "--resume" "$WORK/err" || fail "fit: a rerun over the checkpoint: $(cat "$WORK/err")"
                run_cmd "$c" large "$fresh" --resume 2>"$WORK/err" || fail "fit: --resume: $(head -c 300 "$WORK/err")"
            else
                run_cmd "$c" small "$fresh" 2>"$WORK/err" || fail "$c: the rerun into the fresh --out: $(head -c 300 "$WORK/err")"
            fi
            [ -e "$fresh/$(marker "$c")" ] || fail "$c: the rerun into the fresh --out wrote no $(marker "$c")"
            said="$said $free B: ${left:-nothing} left;"
        done
        [ $fails = "$before_fails" ] && ok "$c: disk full into a fresh --out: exit 1,$said the rerun completes"
    done
}

if [ "${NF_FAULT_MATRIX_IN_NS:-}" = 1 ]; then # inside our own mount namespace
    mnt=$WORK/tmpfs
    mkdir -p "$mnt"
    mount -t tmpfs -o size=8m nf_fault_matrix "$mnt" || { echo "mount failed"; exit 3; }
    disk_full "$mnt"
    umount "$mnt"
    exit $((fails > 0))
fi
WORK=$(mktemp -d /tmp/nf_fault_matrix.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$NF" sbi simulate --preset bayesflow-lif --n 4 --seed 9 --quiet --out "$WORK/obs" || fail "observed traces"
cp "$WORK/obs/x.npy" "$WORK/observed.npy"
"$NF" fit --example --refine 0 --quiet --models lif6,adex,izhikevich --budget 200 --out "$WORK/fitres" >/dev/null ||
    fail "a fit for predict"
why=""
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    NF_FAULT_MATRIX_IN_NS=1 WORK=$WORK unshare -m --propagation private bash "$0" "$@" || fails=$((fails + 1))
elif unshare -rm true 2>/dev/null; then
    NF_FAULT_MATRIX_IN_NS=1 WORK=$WORK unshare -rm bash "$0" "$@" || fails=$((fails + 1))
else
    why="no tmpfs of our own: not root and no unprivileged user namespaces (unshare -rm)"
fi
if [ -n "$why" ]; then
    if [ "${NF_REQUIRE_TMPFS:-0}" = 1 ]; then fail "disk full: $why"; else echo "SKIPPED disk full: $why"; fi
fi

# ---- two writers ------------------------------------------------------------------------------
for c in "${COMMANDS[@]}"; do
    out=$WORK/two-$c
    args "$c" long "$out"
    "$NF" "${ARGS[@]}" >/dev/null 2>"$WORK/err-a" &
    a=$!
    for _ in $(seq 1 3000); do # the first writer holds --out: its pid in the lock file
        [ "$(cat "$out/.neurofit.lock" 2>/dev/null)" = "$a" ] && break
        kill -0 $a 2>/dev/null || break
        sleep 0.005
    done
    if ! kill -STOP $a 2>/dev/null; then fail "$c: the first writer ended before the second started"; continue; fi
    grep -q "^$a\$" "$out/.neurofit.lock" 2>/dev/null || { fail "$c: the first writer holds no lock"; kill -CONT $a; wait $a; continue; }
    start=$(date +%s%N)
    run_cmd "$c" small "$out" --force 2>"$WORK/err-b"
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    kill -CONT $a
    wait $a
    rc_a=$?
    [ $rc = 1 ] || fail "$c: the second writer: exit $rc (want 1): $(cat "$WORK/err-b")"
    grep -q "pid $a" "$WORK/err-b" || fail "$c: the refusal does not name the holder's pid $a: $(cat "$WORK/err-b")"
    [ $rc_a = 0 ] || fail "$c: the first writer: exit $rc_a: $(cat "$WORK/err-a")"
    [ -e "$out/$(marker "$c")" ] || fail "$c: the first writer's set has no $(marker "$c")"
    ls -A "$out" | grep -q '^\.neurofit' && fail "$c: a stage or lock file is left: $(ls -A "$out")"
    ok "$c: a second writer refused in $ms ms naming pid $a; the first completed"
done

# ---- --force leaves no stale file ---------------------------------------------------------------
for c in fit simulate sbi-simulate predict export; do
    out=$WORK/force-$c
    f=$(extra_file "$c")
    run_cmd "$c" extra "$out" 2>"$WORK/err" || { fail "$c: $(cat "$WORK/err")"; continue; }
    [ -e "$out/$f" ] || { fail "$c: the first set has no $f"; continue; }
    run_cmd "$c" noextra "$out" 2>"$WORK/err"
    [ $? = 2 ] && grep -q -- "--force" "$WORK/err" || fail "$c: a complete set replaced without --force"
    run_cmd "$c" noextra "$out" --force 2>"$WORK/err" || { fail "$c: --force: $(cat "$WORK/err")"; continue; }
    [ -e "$out/$f" ] && fail "$c: --force left the earlier set's $f"
    [ -e "$out/$(marker "$c")" ] || fail "$c: no $(marker "$c") after --force"
    ok "$c: --force replaced the set, no stale $f"
done

# ---- a crafted checkpoint ---------------------------------------------------------------------
out=$WORK/crafted/runs/out
mkdir -p "$WORK/crafted/victim"
echo precious >"$WORK/crafted/victim/keep.txt"
"$NF" fit --example --models hh --budget 1000000 --quiet --out "$out" >/dev/null 2>&1 &
a=$!
sleep 1.5
kill -INT $a
wait $a
snap=$(sed -n 's|.*"snapshot": "\([^"]*\)".*|\1|p' "$out/checkpoint/state.json" 2>/dev/null)
if [ -n "$snap" ]; then
    before_fails=$fails
    # the victim looks like a snapshot (a resume loads it and later removes it as the older one)
    cp "$out/checkpoint/$snap"/* "$WORK/crafted/victim/"
    sed -i 's|"snapshot": "[^"]*"|"snapshot": "../../../victim"|' "$out/checkpoint/state.json"
    grep -q victim "$out/checkpoint/state.json" || fail "crafted: could not craft the snapshot name"
    # (were it resumed, the run would stop after 8 s and drop its older snapshot: the victim)
    timeout -s INT 8 "$NF" fit --example --models hh --budget 1000000 --quiet --resume --out "$out" >/dev/null \
        2>"$WORK/err"
    rc=$?
    [ $rc = 2 ] || fail "crafted: --resume with a snapshot ../../../victim: exit $rc (want 2): $(cat "$WORK/err")"
    grep -q "victim" "$WORK/err" || fail "crafted: the message does not quote the name: $(cat "$WORK/err")"
    [ "$(cat "$WORK/crafted/victim/keep.txt" 2>/dev/null)" = precious ] || fail "crafted: a file outside --out was touched"
    [ -n "$(ls "$WORK/crafted/victim"/opt_*.bin 2>/dev/null)" ] || fail "crafted: the victim's snapshot files were removed"
    [ $fails = "$before_fails" ] && ok "crafted snapshot refused (exit $rc), nothing outside --out touched"
else
    fail "crafted: the interrupted fit left no checkpoint with a snapshot"
fi

echo "fault matrix: $fails failure(s)"
exit $((fails > 0))
