#!/usr/bin/env bash
# The differential check against Python's email package (the one
# tests/differential.rs runs over corpus/ and corpus-real/), over the fuzz
# corpora of the sanitize target: every file is one message.
#
#   fuzz/differential.sh [DIR...]     # default: fuzz/corpus/sanitize fuzz/work/sanitize
#
# Fuzz inputs have no allow-list, so this runs with --structural-only: it
# fails (exit 1) only when mugaika *delivers* a message on whose structure
# the two parsers disagree (a part one sees and the other does not, another
# boundary, other decoded bytes), or when mugaika crashes; the other kinds
# are counted in the summary. Add -v through DIFF_ARGS to list every
# disagreement, e.g. DIFF_ARGS=-v fuzz/differential.sh.
# Builds target/release/mugaika first (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    set --
    for d in fuzz/corpus/sanitize fuzz/work/sanitize; do
        [ -d "$d" ] && set -- "$@" "$d"
    done
fi
if [ $# -eq 0 ]; then
    echo "fuzz/differential.sh: no corpus (run fuzz/seed.sh or fuzz/run.sh sanitize first)" >&2
    exit 2
fi
cargo build --release --bin mugaika
# shellcheck disable=SC2086
python3 tests/support_differential/differential.py --bin target/release/mugaika --structural-only \
    -j "${DIFF_JOBS:-2}" ${DIFF_ARGS:-} "$@"
