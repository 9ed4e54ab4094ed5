#!/usr/bin/env bash
# (Re)builds the committed seed corpora fuzz/corpus/<target>/.
#
#   fuzz/seed.sh [CORPUS_DIR...]          (FUZZ_TARGETS="a b" for some targets only)
#
# Default corpora: corpus/ and ${MUGAIKA_SHARED:-../shared}/corpus-real/.
# seed_inputs.py cuts candidates out of the messages (whole messages, HTML
# parts, text bodies, header values, SMTP transcripts). For each target, the
# candidates, the current fuzz/corpus/<target>/ and the inputs found by long
# runs (fuzz/work/<target>/, see run.sh) are merged with libFuzzer's
# -set_cover_merge=1 (a smaller set than -merge=1 with the same features) into a fresh directory that replaces fuzz/corpus/<target>/: only
# inputs that add coverage are kept, smallest first, so the committed set
# stays small (the script fails if fuzz/corpus/ exceeds 2 MB).
# Needs cargo-fuzz (cargo install --locked cargo-fuzz) and python3.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_DIR=$(pwd)
ROOT=$(cd .. && pwd)
SHARED="${MUGAIKA_SHARED:-$ROOT/../shared}"
if [ $# -eq 0 ]; then
    set -- "$ROOT/corpus" "$SHARED/corpus-real"
fi
TARGETS="${FUZZ_TARGETS:-sanitize html_to_text charset_decode headers smtp_session image pdf office_text zip}"
MAX_BYTES=$((2 * 1024 * 1024))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$FUZZ_DIR/seed_inputs.py" "$tmp" "$@"
# Renderer targets: the test fixtures (small PDFs, Office files, ZIPs; not the
# ratio bomb) and one small image per format, made with Pillow when present.
FIX="$ROOT/sanitizers/tests/fixtures"
mkdir -p "$tmp/image" "$tmp/pdf" "$tmp/office_text" "$tmp/zip"
cp "$FIX"/pdf/*.pdf "$tmp/pdf/"
cp "$FIX"/office/sample.* "$tmp/office_text/"
find "$FIX/office" -name '*.zip' ! -name 'ratio_bomb.zip' -exec cp {} "$tmp/zip/" \;
python3 - "$tmp/image" <<'PY' || echo "seed.sh: no Pillow, image seeds skipped" >&2
import io, sys
from PIL import Image
out = sys.argv[1]
img = Image.new("RGB", (8, 6), (200, 30, 40))
for fmt, ext in [("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp")]:
    img.save(f"{out}/seed.{ext}", fmt)
exif = Image.Exif()
exif[0x010F] = "Camera Maker"
exif[0x0110] = "Model 1"
img.save(f"{out}/exif.jpg", "JPEG", exif=exif.tobytes())
frames = [Image.new("P", (4, 4), i) for i in range(3)]
frames[0].save(f"{out}/anim.gif", save_all=True, append_images=frames[1:])
PY

cargo fuzz build -O -s none >/dev/null
for t in $TARGETS; do
    mkdir -p "corpus/$t" "work/$t" "$tmp/new/$t"
    before=$(find "corpus/$t" -type f | wc -l)
    # A merge into an empty directory: a small set with the features of all.
    cargo fuzz run -O -s none "$t" "$tmp/new/$t" "corpus/$t" "work/$t" "$tmp/$t" -- \
        -set_cover_merge=1 -timeout=5 -rss_limit_mb=512 -max_len=65536 >"$tmp/$t.log" 2>&1 || {
        echo "seed.sh: merge for $t failed; see below" >&2
        tail -20 "$tmp/$t.log" >&2
        exit 1
    }
    # Keep every target within its share of the 2 MB: the largest inputs go
    # first (they stay in work/<target>/ for long runs).
    share=$((MAX_BYTES / 9))
    while [ "$(du -sb "$tmp/new/$t" | cut -f1)" -gt "$share" ]; do
        find "$tmp/new/$t" -type f -printf '%s %p\n' | sort -rn | awk 'NR <= 20 { sub(/^[0-9]+ /, ""); print }' | xargs rm -f
    done
    rm -rf "corpus/$t"
    mv "$tmp/new/$t" "corpus/$t"
    after=$(find "corpus/$t" -type f | wc -l)
    echo "$t: $before -> $after seeds ($(du -sb "corpus/$t" | cut -f1) bytes)"
done
total=$(find corpus -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
echo "fuzz/corpus: $total bytes in $(find corpus -type f | wc -l) files"
if [ "$total" -gt "$MAX_BYTES" ]; then
    echo "seed.sh: fuzz/corpus is over 2 MB: minimise it (cargo fuzz cmin -s none TARGET)" >&2
    exit 1
fi
