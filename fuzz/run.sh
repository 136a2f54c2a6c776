#!/bin/sh
# Run one fuzz target for SECONDS (default 600) on a fresh temporary corpus
# seeded from ../shared/data (fuzz/seeds.sh), one job, ASan+UBSan.
# Crash reproducers land in the current directory (crash-*, leak-*, oom-*).
# usage: fuzz/run.sh abf|ibw|nwb|npy|text [SECONDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
t=$1; secs=${2:-600}
[ -x "$here/build/fuzz_$t" ] || "$here/build.sh" "$t"
corpus=$(mktemp -d "/tmp/nf_corpus_${t}_XXXXXX")
"$here/seeds.sh" "$t" "$corpus" >/dev/null
exec "$here/build/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 "$corpus"
