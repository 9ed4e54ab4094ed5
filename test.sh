#!/usr/bin/env bash
# The project's test command (README, .ci/run). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
SHARED="${MUGAIKA_SHARED:-../shared}"

echo "== unit, golden, real-corpus and property tests"
cargo test --workspace --release

echo "== independent check of every output with Python's email package"
cargo build --release --bin mugaika
python3 "$SHARED/tools/check_corpus.py" -j 2 --bin target/release/mugaika "$SHARED/corpus-real" corpus/
