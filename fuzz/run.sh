#!/usr/bin/env bash
# Long fuzzing run of one target.
#
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
#
# Targets: sanitize html_to_text charset_decode headers smtp_session image pdf
# office_text zip.
# Builds with `cargo fuzz build -O -s none` (stable toolchain: libFuzzer with
# SanitizerCoverage, no AddressSanitizer; the release profile of
# Cargo.toml: optimised, debug assertions and overflow checks on) and runs
# the binary directly with
#   -timeout=1 -rss_limit_mb=256   (the issue's per-input limits)
#   -dict=dict/<mime|html|smtp>.dict, -max_len per target,
#   corpus: fuzz/work/<target>/ (new inputs land here; not committed)
#           + fuzz/corpus/<target>/ (committed seeds, read only).
# Crashes, timeouts and OOMs go to fuzz/artifacts/<target>/. libFuzzer stops
# at the first one; with FUZZ_KEEP_GOING=1 it runs in -fork=1 mode and
# continues past crashes (each still saved).
# At the end it prints executions, coverage (cov/ft of libFuzzer's last
# stats line), CPU time (/usr/bin/time -v) and the crashes found, and appends
# one line to fuzz/logs/summary.tsv. Exit status: 0 = no new crash.
# MUGAIKA_FUZZ_STRICT=1 disables the tolerances of src/known.rs.
set -euo pipefail
cd "$(dirname "$0")"

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2

case "$target" in
    sanitize) dict=mime; max_len=65536 ;;
    html_to_text) dict=html; max_len=65536 ;;
    charset_decode) dict=mime; max_len=16384 ;;
    headers) dict=mime; max_len=8192 ;;
    smtp_session) dict=smtp; max_len=65536 ;;
    image) dict=image; max_len=65536 ;;
    pdf) dict=pdf; max_len=65536 ;;
    office_text) dict=xml; max_len=65536 ;;
    zip) dict=zip; max_len=65536 ;;
    *)
        echo "unknown target $target" >&2
        exit 2
        ;;
esac

cargo fuzz build -O -s none "$target" >/dev/null 2>&1 || cargo fuzz build -O -s none "$target"
host=$(rustc -vV | sed -n 's/^host: //p')
bin="target/$host/release/$target"

mkdir -p "work/$target" "corpus/$target" "artifacts/$target" logs
stamp=$(date +%Y%m%d-%H%M%S)
log="logs/$target-$stamp.log"
timefile="logs/$target-$stamp.time"
before=$(find "artifacts/$target" -type f | sort)

mode=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi

echo "== fuzz/run.sh $target ${seconds}s (log $log)"
set +e
/usr/bin/time -v -o "$timefile" "$bin" \
    -artifact_prefix="artifacts/$target/" \
    -dict="dict/$dict.dict" \
    -timeout=1 -rss_limit_mb=256 -max_len="$max_len" \
    -max_total_time="$seconds" -print_final_stats=1 \
    "${mode[@]}" "$@" \
    "work/$target" "corpus/$target" >"$log" 2>&1
status=$?
set -e

# Executions: final stats (plain mode) or the last "#N" stats line (fork mode).
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
stats=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1 || true)
if [ -z "$execs" ]; then
    execs=$(printf '%s\n' "$stats" | sed -n 's/^#\([0-9]*\).*/\1/p')
fi
cov=$(printf '%s\n' "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$stats" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$stats" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
user=$(sed -n 's/^[[:space:]]*User time (seconds): //p' "$timefile")
sys=$(sed -n 's/^[[:space:]]*System time (seconds): //p' "$timefile")
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$timefile")
rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$timefile")
cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN {printf "%.1f", u + s}')
after=$(find "artifacts/$target" -type f | sort)
new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d' || true)
ncrash=$(printf '%s\n' "$new" | sed '/^$/d' | wc -l)

echo "executions: ${execs:-?}"
echo "coverage:   cov ${cov:-?} ft ${ft:-?} (corpus ${corp:-?})"
echo "cpu time:   ${cpu} s (user ${user:-?} s, sys ${sys:-?} s); wall ${wall:-?}; max RSS $((${rss:-0} / 1024)) MB"
echo "crashes:    $ncrash new in artifacts/$target/"
if [ "$ncrash" -gt 0 ]; then
    printf '  %s\n' $new
    grep -m1 -A3 "panicked at" "$log" || grep -m1 -A3 "ERROR: libFuzzer" "$log" || true
fi
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$stamp" "$target" "$seconds" "${execs:-}" "${cov:-}" "${ft:-}" "$cpu" "$ncrash" \
    >>logs/summary.tsv
if [ "$ncrash" -gt 0 ] || { [ "$status" -ne 0 ] && [ "${FUZZ_KEEP_GOING:-0}" != 1 ]; }; then
    exit 1
fi
