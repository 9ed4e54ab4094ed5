#!/usr/bin/env bash
# CI smoke of the fuzz targets: build, replay the saved regressions, then run
# every target for FUZZ_SMOKE_SECONDS (default 60) from the committed seeds,
# with the fixed libFuzzer seed FUZZ_SMOKE_SEED (default 1): the mutations
# are the same on every run of one commit, so a smoke that passed here for
# N seconds passes in CI for up to N seconds, and a CI failure replays here.
# Finding new bugs is the job of fuzz/run.sh (random seeds, long runs).
# Exits non-zero on any crash, timeout (> 1 s per input) or OOM (> 256 MB).
#
#   fuzz/smoke.sh                      # from anywhere
#   FUZZ_SMOKE_SECONDS=10 fuzz/smoke.sh
#   MUGAIKA_FUZZ_STRICT=1 fuzz/smoke.sh   # also fail on the known issues of src/known.rs
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`). Runs on the stable
# toolchain with `-O -s none` (no AddressSanitizer; see fuzz/Cargo.toml for
# the profile). New inputs go to a
# temporary directory, so the committed corpora are not changed; crash
# inputs are kept in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${FUZZ_SMOKE_SECONDS:-60}"
SEED="${FUZZ_SMOKE_SEED:-1}"
TARGETS="sanitize html_to_text charset_decode headers smtp_session image pdf office_text zip"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/smoke.sh: cargo-fuzz is missing: cargo install --locked cargo-fuzz" >&2
    exit 1
fi
echo "== building the fuzz targets"
cargo fuzz build -O -s none
host=$(rustc -vV | sed -n 's/^host: //p')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=""

echo "== replaying regressions"
for t in $TARGETS; do
    files=()
    if [ -d "regressions/$t" ]; then
        while IFS= read -r -d '' f; do files+=("$f"); done < <(find "regressions/$t" -type f -print0)
    fi
    if [ "$t" = sanitize ]; then
        while IFS= read -r -d '' f; do files+=("$f"); done < <(find ../corpus/regressions -name '*.eml' -print0)
    fi
    [ ${#files[@]} -eq 0 ] && continue
    if ! "target/$host/release/$t" -timeout=1 -rss_limit_mb=256 "${files[@]}" >"$tmp/$t.replay.log" 2>&1; then
        echo "FAIL: $t regression replay" >&2
        grep -m1 -A6 -E "panicked at|ERROR: libFuzzer" "$tmp/$t.replay.log" >&2 || tail -20 "$tmp/$t.replay.log" >&2
        failed="$failed $t(regressions)"
    else
        echo "ok: $t (${#files[@]} regression inputs)"
    fi
done

echo "== fuzzing each target for ${SECONDS_PER_TARGET}s (seed $SEED)"
for t in $TARGETS; do
    case "$t" in
        html_to_text) dict=html ;;
        smtp_session) dict=smtp ;;
        image) dict=image ;;
        pdf) dict=pdf ;;
        office_text) dict=xml ;;
        zip) dict=zip ;;
        *) dict=mime ;;
    esac
    mkdir -p "$tmp/work/$t" "artifacts/$t"
    if "target/$host/release/$t" -seed="$SEED" -artifact_prefix="artifacts/$t/" -dict="dict/$dict.dict" \
        -timeout=1 -rss_limit_mb=256 -max_len=16384 -max_total_time="$SECONDS_PER_TARGET" \
        "$tmp/work/$t" "corpus/$t" >"$tmp/$t.log" 2>&1; then
        stats=$(grep -E '^#[0-9]+.*cov: ' "$tmp/$t.log" | tail -1 | sed -E 's/^#([0-9]+)[^c]*(cov: [0-9]+ ft: [0-9]+).*/\1 execs, \2/')
        echo "ok: $t ($stats)"
    else
        echo "FAIL: $t" >&2
        grep -m1 -A12 -E "panicked at|ERROR: libFuzzer" "$tmp/$t.log" >&2 || tail -30 "$tmp/$t.log" >&2
        grep -E "Test unit written to" "$tmp/$t.log" >&2 || true
        failed="$failed $t"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz smoke failed:$failed" >&2
    exit 1
fi
echo "fuzz smoke passed"
