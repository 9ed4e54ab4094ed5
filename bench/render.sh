#!/usr/bin/env bash
# bench/render.sh — mugaika's attachment rendering against pdftoppm and mutool.
#
# Usage: bench/render.sh [ROUNDS]      (default 3; about 25 s per round on
#                                       2 cores, plus a check pass and the build)
#
# What it measures, side by side in one run:
#
#  * PDF pages per second, per document and in total, for
#      mugaika   the whole process `target/release/mugaika sanitize
#                --config CFG < mail.eml > /dev/null`, where mail.eml is a
#                MIME message with the PDF attached (base64) and CFG is
#                `[render] pdf_dpi = 100, pdf_max_pages = 1000` (every page
#                rendered; the other keys keep their defaults, so the
#                renderer runs in its subprocess guard). This includes MIME
#                parsing, base64, the PDF text extraction for the notice, PNG
#                encoding and writing the output message.
#      pdftoppm  `pdftoppm -r 100 -png FILE PREFIX` (poppler)
#      mutool    `mutool draw -q -r 100 -o OUT%d.png FILE` (MuPDF)
#    on the five documents of bench/make_pdfs.py (text, tables, images,
#    Japanese with a non-embedded MS-Mincho, mixed; 10 A4 pages each).
#    Pages come from `pdfinfo`. Per document: pages / median wall time over
#    the rounds. Total: all pages / median over rounds of the summed wall
#    time. Ratios are pages/s of mugaika divided by the other tool's
#    (> 1: mugaika is faster). Each run goes through GNU `/usr/bin/time -f
#    "%M %U %S"`: peak RSS is the largest %M of any run of the tool (the
#    largest process: for mugaika, the parent or its render-worker child,
#    whichever peaked higher, not their sum); CPU is user+sys of the process
#    and its waited-for children. Wall time is taken in Python around it.
#    PNG KiB/page is the mean size of the page images each tool wrote
#    (mugaika's decoded from its output in the check pass): PNG compression
#    effort is a large part of the cost, so read speed and size together.
#  * Image re-encoding: a mail with one 4000x3000 JPEG (deterministic, made
#    with Pillow) through `mugaika sanitize` (decode, downscale to 2000x1500,
#    PNG): source megapixels per second, median over the rounds.
#
# Fairness on a noisy shared machine: tools run one at a time, interleaved
# per document (text: A B C, tables: A B C, ...), and the order of the tools
# rotates each round (A B C, B C A, C A B). Before the timed rounds one
# untimed pass runs mugaika on every mail and checks the result (exit 0, one
# image/png part per page, 2000x1500 for the photo); pdftoppm's and mutool's
# page files are counted after every run (then deleted, outside the timing).
# Any failure stops the script with a non-zero exit status.
#
# It builds only `cargo build --release --bin mugaika` in the repository.
# Prerequisites: cargo, python3 with Pillow, poppler-utils (pdftoppm,
# pdfinfo), poppler-data (pdftoppm needs its UniJIS-UCS2-H CMap for
# japanese.pdf), mupdf-tools (mutool). Temp files go to $TMPDIR (or /tmp)
# and are removed on exit.
#
# Development aids: RENDER_BENCH_TOOLS="pdftoppm mutool" leaves mugaika out
# (no build, no mugaika columns); RENDER_BENCH_KEEP=1 keeps the temp dir
# (PDFs, mails, photo.jpg, mugaika's outputs check-*.eml) for inspection.
#
# Output: Markdown tables on stdout (progress on stderr). Nothing is written
# into the repository except cargo's target/.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PY="${PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1
ROUNDS="${1:-3}"
TOOLS="${RENDER_BENCH_TOOLS:-mugaika pdftoppm mutool}"

die() { echo "render.sh: $*" >&2; exit 2; }

[[ $# -le 1 ]] || die "usage: bench/render.sh [ROUNDS]"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
for t in $TOOLS; do
    case "$t" in mugaika|pdftoppm|mutool) ;; *) die "unknown tool in RENDER_BENCH_TOOLS: $t" ;; esac
done

[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time, package 'time') is needed"
for t in "$PY" pdftoppm pdfinfo mutool; do
    command -v "$t" >/dev/null || die "$t not found (poppler-utils, mupdf-tools, python3)"
done
"$PY" -c 'import PIL' 2>/dev/null || die "python3 Pillow is needed for the JPEG (python3-pil)"
[[ -d /usr/share/poppler/cMap/Adobe-Japan1 ]] ||
    die "poppler-data is missing: pdftoppm cannot draw japanese.pdf (apt-get install poppler-data)"

BIN="$REPO/target/release/mugaika"
if [[ " $TOOLS " == *" mugaika "* ]]; then
    command -v cargo >/dev/null || die "cargo not found"
    echo "== cargo build --release --bin mugaika" >&2
    (cd "$REPO" && cargo build --release --bin mugaika) >&2 || { echo "render.sh: build failed" >&2; exit 1; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/render-bench.XXXXXX")"
if [[ -n "${RENDER_BENCH_KEEP:-}" ]]; then
    trap 'echo "render.sh: kept $TMP (check-*.eml: the mugaika outputs)" >&2' EXIT
else
    trap 'rm -rf "$TMP"' EXIT
fi

echo "== generating PDFs into $TMP/pdf" >&2
"$PY" "$HERE/make_pdfs.py" "$TMP/pdf"

set +e
"$PY" - "$ROUNDS" "$TMP" "$BIN" "$TOOLS" <<'PYEOF'
import base64
import email
import email.policy
import os
import random
import statistics
import struct
import subprocess
import sys
import time

ROUNDS = int(sys.argv[1])
TMP = sys.argv[2]
BIN = sys.argv[3]
TOOLS = sys.argv[4].split()
DOCS = ['text.pdf', 'tables.pdf', 'images.pdf', 'japanese.pdf', 'mixed.pdf']
PDF_DIR = os.path.join(TMP, 'pdf')
OUT_DIR = os.path.join(TMP, 'out')
CFG = os.path.join(TMP, 'render.toml')
TIME = '/usr/bin/time'
KEEP = bool(os.environ.get('RENDER_BENCH_KEEP'))
PHOTO_W, PHOTO_H = 4000, 3000


class Fail(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(argv, stdin_path=None, stdout_path=None):
    """Run argv; returns (wall seconds, peak RSS KiB, CPU seconds, exit code, stderr).

    Through GNU time: a child forked from this (large) Python process would
    inherit its RSS high-water mark, so wait4 here would over-report. Wall time
    is taken here around the whole thing (time's own fork+exec is ~1 ms).
    """
    err_path = os.path.join(TMP, 'stderr.txt')
    res_path = os.path.join(TMP, 'time.txt')
    fin = open(stdin_path, 'rb') if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path or os.devnull, 'wb')
    ferr = open(err_path, 'wb')
    try:
        t0 = time.perf_counter()
        rc = subprocess.call([TIME, '-f', '%M %U %S', '-o', res_path] + argv,
                             stdin=fin, stdout=fout, stderr=ferr)
        wall = time.perf_counter() - t0
    finally:
        for f in (fin, fout, ferr):
            if f is not subprocess.DEVNULL:
                f.close()
    with open(err_path, 'rb') as f:
        err = f.read().decode('utf-8', 'replace')
    with open(res_path) as f:
        last = f.read().strip().splitlines()[-1].split()
    # GNU time prefixes "Command exited with non-zero status N" on failure.
    rss_kib, user, sys_ = int(last[0]), float(last[1]), float(last[2])
    return wall, rss_kib, user + sys_, rc, err


def page_count(pdf):
    out = subprocess.run(['pdfinfo', pdf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith('Pages:'):
            return int(line.split()[1])
    raise Fail('pdfinfo gave no page count for ' + pdf)


def write_mail(path, name, ctype, data):
    b64 = base64.encodebytes(data).decode('ascii').replace('\n', '\r\n')
    msg = (
        'From: Sender <sender@example.com>\r\n'
        'To: staff@city.example.lg.jp\r\n'
        'Subject: render benchmark: %s\r\n'
        'Date: Mon, 01 Apr 2024 09:00:00 +0900\r\n'
        'Message-ID: <render-bench-%s@example.com>\r\n'
        'MIME-Version: 1.0\r\n'
        'Content-Type: multipart/mixed; boundary="=_bench_boundary"\r\n'
        '\r\n'
        '--=_bench_boundary\r\n'
        'Content-Type: text/plain; charset=us-ascii\r\n'
        '\r\n'
        'Please find the document attached.\r\n'
        '--=_bench_boundary\r\n'
        'Content-Type: %s; name="%s"\r\n'
        'Content-Disposition: attachment; filename="%s"\r\n'
        'Content-Transfer-Encoding: base64\r\n'
        '\r\n' % (name, name.replace('.', '-'), ctype, name, name)
    ) + b64 + '--=_bench_boundary--\r\n'
    with open(path, 'wb') as f:
        f.write(msg.encode('ascii'))


def make_photo(path):
    """A deterministic photo-like 4000x3000 JPEG: gradients + smooth and fine noise."""
    from PIL import Image
    rng = random.Random(4000 * 3000)
    size = (PHOTO_W, PHOTO_H)
    lin = Image.linear_gradient('L').resize(size)
    rad = Image.radial_gradient('L').resize(size)
    lin2 = Image.linear_gradient('L').rotate(90).resize(size)
    base = Image.merge('RGB', (lin, rad, lin2))
    def blobs(w, h):
        return Image.frombytes('RGB', (w, h), rng.randbytes(w * h * 3)).resize(size, Image.BICUBIC)
    img = Image.blend(base, blobs(16, 12), 0.5)        # large soft shapes
    img = Image.blend(img, blobs(200, 150), 0.15)      # texture
    fine = Image.frombytes('L', size, rng.randbytes(PHOTO_W * PHOTO_H)).convert('RGB')
    img = Image.blend(img, fine, 0.06)                 # sensor noise
    img.save(path, 'JPEG', quality=90)


def png_parts(path):
    """image/png parts of a MIME message: list of (filename, width, height)."""
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_type() == 'image/png':
            data = part.get_payload(decode=True) or b''
            w = h = 0
            if data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
                w, h = struct.unpack('>II', data[16:24])
            parts.append((part.get_filename(), w, h, len(data)))
    return parts


def clean_out():
    for n in os.listdir(OUT_DIR):
        os.unlink(os.path.join(OUT_DIR, n))


def count_out():
    return sum(1 for n in os.listdir(OUT_DIR) if n.endswith('.png'))


def bytes_out():
    return sum(os.path.getsize(os.path.join(OUT_DIR, n)) for n in os.listdir(OUT_DIR))


def tool_argv(tool, doc):
    pdf = os.path.join(PDF_DIR, doc)
    stem = doc[:-4]
    if tool == 'mugaika':
        return [BIN, 'sanitize', '--config', CFG], os.path.join(TMP, 'mail-' + stem + '.eml')
    if tool == 'pdftoppm':
        return ['pdftoppm', '-r', '100', '-png', pdf, os.path.join(OUT_DIR, stem)], None
    if tool == 'mutool':
        return ['mutool', 'draw', '-q', '-r', '100', '-o', os.path.join(OUT_DIR, stem + '-%d.png'), pdf], None
    raise Fail('unknown tool ' + tool)


def check_mugaika(mail, expect, what, photo=False):
    """Untimed pass: mugaika delivers, with one PNG per page (or the downscaled photo)."""
    out = os.path.join(TMP, 'check.eml')
    report = os.path.join(TMP, 'check-report.json')
    wall, rss, cpu, rc, err = run([BIN, 'sanitize', '--config', CFG, '--report', report], mail, out)
    if rc != 0:
        rep = open(report, encoding='utf-8', errors='replace').read()[:2000] if os.path.exists(report) else ''
        raise Fail('mugaika sanitize exited %d on %s\n%s\n%s' % (rc, what, err[-2000:], rep))
    with open(out, 'rb') as f:
        n = f.read().count(b'Content-Type: image/png')
    parts = png_parts(out)
    if len(parts) != expect:
        raise Fail('mugaika: %s: expected %d image/png parts, found %d (%d lines with '
                   '"Content-Type: image/png"): %s' % (what, expect, len(parts), n, [p[0] for p in parts][:5]))
    if photo:
        if (parts[0][1], parts[0][2]) != (2000, 1500):
            raise Fail('mugaika: photo rendition is %dx%d, expected 2000x1500' % parts[0][1:3])
    log('   check %-13s ok: %d PNG part(s), first %s %dx%d, %.2f s' % (
        what, len(parts), parts[0][0], parts[0][1], parts[0][2], wall))
    if KEEP:
        os.replace(out, os.path.join(TMP, 'check-%s.eml' % what))
    return sum(p[3] for p in parts)


def fmt(x, nd=1):
    return '–' if x is None else ('%.*f' % (nd, x))


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(CFG, 'w') as f:
        f.write('[render]\npdf_dpi = 100\npdf_max_pages = 1000\n')
    pages = {d: page_count(os.path.join(PDF_DIR, d)) for d in DOCS}
    sizes = {d: os.path.getsize(os.path.join(PDF_DIR, d)) for d in DOCS}
    for d in DOCS:
        with open(os.path.join(PDF_DIR, d), 'rb') as f:
            write_mail(os.path.join(TMP, 'mail-' + d[:-4] + '.eml'), d, 'application/pdf', f.read())
    photo = os.path.join(TMP, 'photo.jpg')
    png_bytes = {t: 0 for t in TOOLS}
    photo_mail = os.path.join(TMP, 'mail-photo.eml')
    if 'mugaika' in TOOLS:
        make_photo(photo)
        with open(photo, 'rb') as f:
            write_mail(photo_mail, 'photo.jpg', 'image/jpeg', f.read())
        log('== check pass (untimed): mugaika on every mail')
        for d in DOCS:
            png_bytes['mugaika'] += check_mugaika(os.path.join(TMP, 'mail-' + d[:-4] + '.eml'), pages[d], d)
        check_mugaika(photo_mail, 1, 'photo.jpg', photo=True)

    # wall[tool][doc] = [seconds per round]; totals per round per tool.
    wall = {t: {d: [] for d in DOCS} for t in TOOLS}
    cpu_tot = {t: [] for t in TOOLS}
    rss = {t: 0 for t in TOOLS}
    photo_wall, photo_rss = [], 0
    for r in range(ROUNDS):
        order = TOOLS[r % len(TOOLS):] + TOOLS[:r % len(TOOLS)]
        log('== round %d/%d (order: %s)' % (r + 1, ROUNDS, ' '.join(order)))
        cpu_round = {t: 0.0 for t in TOOLS}
        for d in DOCS:
            line = []
            for t in order:
                argv, stdin = tool_argv(t, d)
                clean_out()
                w, m, c, rc, err = run(argv, stdin)
                if rc != 0:
                    raise Fail('%s exited %d on %s:\n%s' % (t, rc, d, err[-2000:]))
                if t != 'mugaika' and count_out() != pages[d]:
                    raise Fail('%s wrote %d page images for %s (%d pages)' % (t, count_out(), d, pages[d]))
                if t != 'mugaika' and r == 0:
                    png_bytes[t] += bytes_out()
                wall[t][d].append(w)
                cpu_round[t] += c
                rss[t] = max(rss[t], m)
                line.append('%s %.2fs' % (t, w))
            log('   %-13s %s' % (d, ', '.join(line)))
        for t in TOOLS:
            cpu_tot[t].append(cpu_round[t])
        if 'mugaika' in TOOLS:
            w, m, c, rc, err = run([BIN, 'sanitize', '--config', CFG], photo_mail)
            if rc != 0:
                raise Fail('mugaika exited %d on the photo:\n%s' % (rc, err[-2000:]))
            photo_wall.append(w)
            photo_rss = max(photo_rss, m)
            log('   %-13s mugaika %.2fs' % ('photo.jpg', w))
    clean_out()

    def pps(t, d):
        return pages[d] / statistics.median(wall[t][d]) if t in TOOLS else None

    def ratio(a, b):
        return a / b if a is not None and b is not None else None

    total_pages = sum(pages.values())
    totals = {t: [sum(wall[t][d][r] for d in DOCS) for r in range(ROUNDS)] for t in TOOLS}

    def tot_pps(t):
        return total_pages / statistics.median(totals[t]) if t in TOOLS else None

    print()
    print('### PDF rendering at 100 dpi: pages/s (median of %d rounds, wall clock)' % ROUNDS)
    print()
    print('| document | pages | size KiB | mugaika | pdftoppm | mutool | mugaika/mutool | mugaika/pdftoppm |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    for d in DOCS:
        m, p, u = pps('mugaika', d), pps('pdftoppm', d), pps('mutool', d)
        print('| %s | %d | %d | %s | %s | %s | %s | %s |' % (
            d, pages[d], sizes[d] // 1024, fmt(m), fmt(p), fmt(u), fmt(ratio(m, u), 2), fmt(ratio(m, p), 2)))
    m, p, u = tot_pps('mugaika'), tot_pps('pdftoppm'), tot_pps('mutool')
    print('| **total** | %d | %d | **%s** | **%s** | **%s** | **%s** | **%s** |' % (
        total_pages, sum(sizes.values()) // 1024, fmt(m), fmt(p), fmt(u), fmt(ratio(m, u), 2), fmt(ratio(m, p), 2)))
    print()
    print('| tool | total wall s (min / median / max) | CPU s (median) | peak RSS MiB | PNG KiB/page |')
    print('|---|---|---:|---:|---:|')
    for t in ['mugaika', 'pdftoppm', 'mutool']:
        if t not in TOOLS:
            continue
        s = sorted(totals[t])
        print('| %s | %.2f / %.2f / %.2f | %.2f | %.1f | %.0f |' % (
            t, s[0], statistics.median(s), s[-1], statistics.median(cpu_tot[t]), rss[t] / 1024,
            png_bytes[t] / 1024 / total_pages))
    if 'mugaika' in TOOLS:
        mp = PHOTO_W * PHOTO_H / 1e6
        med = statistics.median(photo_wall)
        print()
        print('### Image re-encode (mugaika sanitize, whole process)')
        print()
        print('| input | JPEG KiB | median s (min–max) | source MP/s | peak RSS MiB |')
        print('|---|---:|---|---:|---:|')
        print('| %dx%d JPEG → 2000x1500 PNG | %d | %.2f (%.2f–%.2f) | %.1f | %.1f |' % (
            PHOTO_W, PHOTO_H, os.path.getsize(photo) // 1024, med, min(photo_wall), max(photo_wall),
            mp / med, photo_rss / 1024))
    print()
    print('%d rounds, tools rotated each round; %s; %d CPUs, load average before: %s' % (
        ROUNDS, ', '.join(TOOLS), os.cpu_count(), LOAD0))


LOAD0 = ' '.join('%.2f' % x for x in os.getloadavg())
try:
    main()
except Fail as e:
    print('render.sh: FAILED: %s' % e, file=sys.stderr)
    sys.exit(1)
except subprocess.CalledProcessError as e:
    print('render.sh: FAILED: %s' % e, file=sys.stderr)
    sys.exit(1)
PYEOF
rc=$?
exit $rc
