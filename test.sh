#!/usr/bin/env bash
# The project's test command (README, .ci/run). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
SHARED="${MUGAIKA_SHARED:-../shared}"

echo "== unit, golden, real-corpus and property tests"
cargo test --workspace --release

echo "== independent check of every output with Python's email package"
cargo build --release --bin mugaika
# One known disagreement: mikel-mail new_line_in_to_header.eml has the
# Message-ID <…120e..fdbed…@…>; the checker wants it kept verbatim (it is a
# "clean" id by its rule) and also flags the kept id as malformed (repeated
# '.'), so no output can pass both; mugaika keeps the id for threading.
python3 "$SHARED/tools/check_corpus.py" -j 2 --fail-under 648 --bin target/release/mugaika "$SHARED/corpus-real" corpus/

echo "== fuzz smoke: build every target, replay the regressions, ~60 s per target"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing (cargo install --locked cargo-fuzz; .ci/run does)" >&2
    exit 1
fi
fuzz/smoke.sh
