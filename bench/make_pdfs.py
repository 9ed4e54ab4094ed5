#!/usr/bin/env python3
"""make_pdfs.py OUTDIR — deterministic multi-page PDFs for bench/render.sh.

Python 3 standard library only. Every file is written by hand: numbered
objects, a classic xref table with exact byte offsets, Flate (zlib) content
streams and images. The content comes from a seeded pseudo-random generator,
so the same OUTDIR content is produced on every run (same zlib version).

Documents (A4, 595x842 pt, 10 pages each):

  text.pdf      paragraphs of English prose in Helvetica / Helvetica-Bold
                (standard-14, not embedded), left aligned, wrapped with the
                real Helvetica advance widths.
  tables.pdf    ruled tables: shaded header (re f), grid (l S), border (re S),
                right-aligned numbers in the cells.
  images.pdf    one or two RGB image XObjects per page (600x400 .. 800x600:
                gradients, sine "plasma", uniform noise), FlateDecode, drawn
                scaled with cm.
  japanese.pdf  Japanese sentences in a Type0 font the way MS Word writes
                MS-Mincho / MS-Gothic when the font is not embedded:
                /Encoding /UniJIS-UCS2-H, CIDFontType2, CIDSystemInfo
                Adobe-Japan1-4, a FontDescriptor with no FontFile, plus a
                ToUnicode CMap; and lines mixing Japanese with Latin runs
                (Helvetica) and ASCII inside the Japanese font.
  mixed.pdf     per page: heading, text, a small table, an image, more text.

Note: pdftoppm needs Debian's poppler-data for the UniJIS-UCS2-H CMap
(without it, it prints "Unknown CMap" errors and draws no Japanese text).
"""

import math
import os
import random
import sys
import zlib

PAGE_W, PAGE_H = 595, 842
MARGIN = 56
PAGES = 10

# Helvetica advance widths (standard AFM metrics, 1/1000 em) for ASCII.
_HELV = {
    ' ': 278, '!': 278, '"': 355, '#': 556, '$': 556, '%': 889, '&': 667,
    "'": 191, '(': 333, ')': 333, '*': 389, '+': 584, ',': 278, '-': 333,
    '.': 278, '/': 278, ':': 278, ';': 278, '<': 584, '=': 584, '>': 584,
    '?': 556, '@': 1015, '[': 278, '\\': 278, ']': 278, '^': 469, '_': 556,
    '`': 333, '{': 334, '|': 260, '}': 334, '~': 584,
    'A': 667, 'B': 667, 'C': 722, 'D': 722, 'E': 667, 'F': 611, 'G': 778,
    'H': 722, 'I': 278, 'J': 500, 'K': 667, 'L': 556, 'M': 833, 'N': 722,
    'O': 778, 'P': 667, 'Q': 778, 'R': 722, 'S': 667, 'T': 611, 'U': 722,
    'V': 667, 'W': 944, 'X': 667, 'Y': 667, 'Z': 611,
    'a': 556, 'b': 556, 'c': 500, 'd': 556, 'e': 556, 'f': 278, 'g': 556,
    'h': 556, 'i': 222, 'j': 222, 'k': 500, 'l': 222, 'm': 833, 'n': 556,
    'o': 556, 'p': 556, 'q': 556, 'r': 333, 's': 500, 't': 278, 'u': 556,
    'v': 500, 'w': 722, 'x': 500, 'y': 500, 'z': 500,
}
for _d in '0123456789':
    _HELV[_d] = 556


def helv_width(s, size):
    """Width in points of s in Helvetica at size (Helvetica-Bold is close enough)."""
    return sum(_HELV.get(c, 556) for c in s) * size / 1000.0


def pdf_str(s):
    """A PDF literal string (ASCII only)."""
    return '(' + s.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)') + ')'


def ucs2_hex(s):
    """A PDF hex string of UCS-2 BE code units (BMP only)."""
    return '<' + ''.join('%04X' % ord(c) for c in s) + '>'


class Pdf:
    """Objects are numbered from 1 in the order they are reserved."""

    def __init__(self):
        self.objs = []

    def reserve(self):
        self.objs.append(None)
        return len(self.objs)

    def set(self, num, body):
        self.objs[num - 1] = body if isinstance(body, bytes) else body.encode('latin-1')

    def add(self, body):
        num = self.reserve()
        self.set(num, body)
        return num

    def add_stream(self, dict_entries, data, compress=True):
        if isinstance(data, str):
            data = data.encode('latin-1')
        if compress:
            data = zlib.compress(data, 6)
            dict_entries = dict_entries + ' /Filter /FlateDecode'
        head = ('<< %s /Length %d >>\nstream\n' % (dict_entries.strip(), len(data))).encode('latin-1')
        return self.add(head + data + b'\nendstream')

    def write(self, path, root, info):
        out = bytearray(b'%PDF-1.7\n%\xe2\xe3\xcf\xd3\n')
        offsets = []
        for i, body in enumerate(self.objs, 1):
            if body is None:
                raise ValueError('object %d reserved but never set' % i)
            offsets.append(len(out))
            out += b'%d 0 obj\n' % i + body + b'\nendobj\n'
        xref = len(out)
        out += b'xref\n0 %d\n' % (len(self.objs) + 1)
        out += b'0000000000 65535 f \n'
        for off in offsets:
            out += b'%010d 00000 n \n' % off
        out += (b'trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n'
                % (len(self.objs) + 1, root, info, xref))
        with open(path, 'wb') as f:
            f.write(out)


class Doc:
    """Pages with a shared resource dictionary (fonts) and per-page images."""

    def __init__(self, title):
        self.pdf = Pdf()
        self.title = title
        self.catalog = self.pdf.reserve()
        self.pages = self.pdf.reserve()
        self.kids = []
        self.fonts = {}

    def std_font(self, name, base):
        self.fonts[name] = self.pdf.add(
            '<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>' % base)

    def image(self, w, h, rgb):
        assert len(rgb) == w * h * 3
        return self.pdf.add_stream(
            '/Type /XObject /Subtype /Image /Width %d /Height %d '
            '/ColorSpace /DeviceRGB /BitsPerComponent 8' % (w, h), bytes(rgb))

    def page(self, content, images=None):
        fonts = ' '.join('/%s %d 0 R' % (k, v) for k, v in sorted(self.fonts.items()))
        res = '/Font << %s >>' % fonts
        if images:
            res += ' /XObject << %s >>' % ' '.join('/%s %d 0 R' % (k, v) for k, v in images)
        c = self.pdf.add_stream('', content)
        self.kids.append(self.pdf.add(
            '<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << %s >> '
            '/Contents %d 0 R >>' % (self.pages, PAGE_W, PAGE_H, res, c)))

    def write(self, path):
        self.pdf.set(self.pages, '<< /Type /Pages /Kids [%s] /Count %d >>' % (
            ' '.join('%d 0 R' % k for k in self.kids), len(self.kids)))
        self.pdf.set(self.catalog, '<< /Type /Catalog /Pages %d 0 R >>' % self.pages)
        info = self.pdf.add('<< /Title %s /Producer (mugaika bench/make_pdfs.py) '
                            '/CreationDate (D:20240401090000+09\'00\') >>' % pdf_str(self.title))
        self.pdf.write(path, self.catalog, info)


# ---------------------------------------------------------------------------
# Content helpers

WORDS = ('the of and to in a is that for on with as by this be are from at or it '
         'an which not have has will can all their been were more other its also '
         'residents city office budget council report service public water road '
         'school health welfare tax plan year annual review committee meeting '
         'application form notice system network security mail server access '
         'department section staff request approval payment invoice contract '
         'schedule project survey result data analysis program support local '
         'government policy procedure document record archive review period '
         'revision section chapter figure table total amount estimate quarter '
         'maintenance facility library park bridge hospital station district '
         'community disaster emergency response training exercise evacuation '
         'shelter supply inventory equipment vehicle contractor tender bid '
         'specification requirement deadline submission attached following '
         'previous current next proposed revised approved pending completed').split()


def sentence(rng):
    n = rng.randint(8, 22)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words.insert(rng.randrange(1, n), '%d' % rng.randint(2, 99999))
    if rng.random() < 0.25:
        words[rng.randrange(2, n)] += ','
    s = ' '.join(words)
    return s[0].upper() + s[1:] + rng.choice('....?')


def paragraph(rng, n_min=3, n_max=7):
    return ' '.join(sentence(rng) for _ in range(rng.randint(n_min, n_max)))


def wrap(text, size, width):
    lines, cur = [], ''
    for word in text.split():
        cand = word if not cur else cur + ' ' + word
        if helv_width(cand, size) <= width or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines


def text_block(ops, rng, y, bottom, size=10, leading=13, x=MARGIN, width=PAGE_W - 2 * MARGIN,
               max_paras=None):
    """Append paragraphs until y reaches bottom; returns the new y."""
    paras = 0
    while y - leading > bottom and (max_paras is None or paras < max_paras):
        lines = wrap(paragraph(rng), size, width)
        ops.append('BT /F1 %g Tf %g TL %g %g Td' % (size, leading, x, y - size))
        for i, line in enumerate(lines):
            if y - leading < bottom:
                break
            ops.append(('%s Tj' if i == 0 else "T* %s Tj") % pdf_str(line))
            y -= leading
        ops.append('ET')
        y -= leading * 0.6
        paras += 1
    return y


def footer(ops, n, title):
    s = '%s - page %d' % (title, n)
    ops.append('0.4 g BT /F1 8 Tf %g 30 Td %s Tj ET 0 g' % ((PAGE_W - helv_width(s, 8)) / 2, pdf_str(s)))


def heading(ops, text, y, size=14):
    ops.append('BT /F2 %g Tf %g %g Td %s Tj ET' % (size, MARGIN, y - size, pdf_str(text)))
    return y - size - 10


def table(ops, rng, x, y, cols, rows, col_w, row_h=16, size=8):
    """A ruled table with a shaded header row; returns the bottom y."""
    w = cols * col_w
    h = rows * row_h
    # Header shading, then the grid, then the border.
    ops.append('0.85 0.88 0.95 rg %g %g %g %g re f 0 g' % (x, y - row_h, w, row_h))
    ops.append('0.5 w 0.3 G')
    for r in range(1, rows):
        ops.append('%g %g m %g %g l' % (x, y - r * row_h, x + w, y - r * row_h))
    for c in range(1, cols):
        ops.append('%g %g m %g %g l' % (x + c * col_w, y, x + c * col_w, y - h))
    ops.append('S 1 w 0 G %g %g %g %g re S' % (x, y - h, w, h))
    ops.append('BT')
    heads = ['No.', 'Code', 'Qty', 'Unit', 'Amount', 'Tax', 'Total', 'Rate', 'Ref', 'Note']
    for c in range(cols):
        label = heads[c % len(heads)]
        ops.append('/F2 %g Tf 1 0 0 1 %g %g Tm %s Tj' % (size, x + c * col_w + 4, y - row_h + 5, pdf_str(label)))
    ops.append('/F1 %g Tf' % size)
    for r in range(1, rows):
        for c in range(cols):
            if c == 0:
                s = '%d' % r
            elif c == 1:
                s = '%c%c-%04d' % (rng.choice('ABCDEFGH'), rng.choice('KLMNPQ'), rng.randint(0, 9999))
            elif c % 3 == 2:
                s = '%d' % rng.randint(1, 999)
            elif c % 3 == 0:
                s = '{:,}'.format(rng.randint(100, 9999999))
            else:
                s = '%.2f' % (rng.random() * 100)
            tx = x + (c + 1) * col_w - 4 - helv_width(s, size)
            ops.append('1 0 0 1 %g %g Tm %s Tj' % (tx, y - (r + 1) * row_h + 5, pdf_str(s)))
    ops.append('ET')
    return y - h


# ---------------------------------------------------------------------------
# Images (RGB, 8 bits)

def img_gradient(rng, w, h):
    r0, g0, b0 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    r1, g1, b1 = rng.randrange(256), rng.randrange(256), rng.randrange(256)
    xs_r = [r0 + (r1 - r0) * x // (w - 1) for x in range(w)]
    xs_g = [g0 + (g1 - g0) * x // (w - 1) for x in range(w)]
    out = bytearray()
    for y in range(h):
        b = b0 + (b1 - b0) * y // (h - 1)
        row = bytearray(w * 3)
        row[0::3] = bytes(xs_r)
        row[1::3] = bytes(xs_g)
        row[2::3] = bytes([b]) * w
        out += row
    return out


def img_plasma(rng, w, h):
    fx = [rng.uniform(0.01, 0.05) for _ in range(3)]
    fy = [rng.uniform(0.01, 0.05) for _ in range(3)]
    ph = [rng.uniform(0, 6.28) for _ in range(6)]
    tx = [[math.sin(x * fx[k] + ph[k]) for x in range(w)] for k in range(3)]
    ty = [[math.sin(y * fy[k] + ph[k + 3]) for y in range(h)] for k in range(3)]
    out = bytearray()
    for y in range(h):
        row = bytearray(w * 3)
        for k in range(3):
            sy = ty[k][y]
            row[k::3] = bytes(int(63.75 * (2 + a + sy)) for a in tx[k])
        out += row
    return out


def img_noise(rng, w, h):
    return bytearray(rng.randbytes(w * h * 3))


def img_blocks(rng, w, h):
    """Gradient with a pattern of noisy rectangles (photo-like detail)."""
    out = img_gradient(rng, w, h)
    for _ in range(12):
        bw, bh = rng.randint(20, w // 3), rng.randint(20, h // 3)
        bx, by = rng.randrange(w - bw), rng.randrange(h - bh)
        for y in range(by, by + bh):
            o = (y * w + bx) * 3
            out[o:o + bw * 3] = rng.randbytes(bw * 3)
    return out


IMAGE_KINDS = [img_gradient, img_plasma, img_noise, img_blocks]


def draw_image(ops, name, x, y, w, h):
    ops.append('q %g 0 0 %g %g %g cm /%s Do Q' % (w, h, x, y, name))
    ops.append('0.5 w %g %g %g %g re S' % (x, y, w, h))


# ---------------------------------------------------------------------------
# Documents

def make_text(path, seed):
    rng = random.Random(seed)
    d = Doc('Annual report (text)')
    d.std_font('F1', 'Helvetica')
    d.std_font('F2', 'Helvetica-Bold')
    for n in range(1, PAGES + 1):
        ops = []
        y = heading(ops, 'Chapter %d. %s' % (n, sentence(rng)[:50].rstrip(' ,.?')), PAGE_H - MARGIN)
        text_block(ops, rng, y, MARGIN)
        footer(ops, n, d.title)
        d.page('\n'.join(ops))
    d.write(path)


def make_tables(path, seed):
    rng = random.Random(seed)
    d = Doc('Budget tables')
    d.std_font('F1', 'Helvetica')
    d.std_font('F2', 'Helvetica-Bold')
    for n in range(1, PAGES + 1):
        ops = []
        y = heading(ops, 'Table %d. Expenditure by item' % n, PAGE_H - MARGIN)
        y = table(ops, rng, MARGIN, y, 7, 22, (PAGE_W - 2 * MARGIN) / 7.0) - 24
        y = heading(ops, 'Table %d-b. Detail' % n, y, 11)
        table(ops, rng, MARGIN, y, 10, 20, (PAGE_W - 2 * MARGIN) / 10.0, row_h=14, size=7)
        footer(ops, n, d.title)
        d.page('\n'.join(ops))
    d.write(path)


def make_images(path, seed):
    rng = random.Random(seed)
    d = Doc('Photo appendix')
    d.std_font('F1', 'Helvetica')
    d.std_font('F2', 'Helvetica-Bold')
    sizes = [(600, 400), (640, 480), (800, 600), (600, 400)]
    k = 0
    for n in range(1, PAGES + 1):
        ops, imgs = [], []
        y = heading(ops, 'Figure %d' % n, PAGE_H - MARGIN)
        count = 1 if n % 3 == 0 else 2
        box_h = (y - MARGIN - 20 * count) / count
        for i in range(count):
            w, h = sizes[k % len(sizes)]
            kind = IMAGE_KINDS[k % len(IMAGE_KINDS)]
            k += 1
            name = 'Im%d' % i
            imgs.append((name, d.image(w, h, kind(rng, w, h))))
            dw = PAGE_W - 2 * MARGIN
            dh = dw * h / w
            if dh > box_h:
                dh = box_h
                dw = dh * w / h
            top = y - i * (box_h + 20)
            draw_image(ops, name, (PAGE_W - dw) / 2, top - dh, dw, dh)
            cap = 'Figure %d-%d: %s, %dx%d pixels' % (n, i + 1, kind.__name__[4:], w, h)
            ops.append('BT /F1 9 Tf %g %g Td %s Tj ET' % (MARGIN, top - dh - 12, pdf_str(cap)))
        footer(ops, n, d.title)
        d.page('\n'.join(ops), imgs)
    d.write(path)


def make_mixed(path, seed):
    rng = random.Random(seed)
    d = Doc('Project report (mixed)')
    d.std_font('F1', 'Helvetica')
    d.std_font('F2', 'Helvetica-Bold')
    for n in range(1, PAGES + 1):
        ops = []
        y = heading(ops, '%d. %s' % (n, sentence(rng)[:45].rstrip(' ,.?')), PAGE_H - MARGIN)
        y = text_block(ops, rng, y, MARGIN, max_paras=2) - 6
        y = table(ops, rng, MARGIN, y, 6, 10, (PAGE_W - 2 * MARGIN) / 6.0) - 16
        w, h = 600, 400
        kind = IMAGE_KINDS[n % len(IMAGE_KINDS)]
        img = d.image(w, h, kind(rng, w, h))
        dw = 300
        dh = dw * h / w
        draw_image(ops, 'Im0', MARGIN, y - dh, dw, dh)
        # Text beside the image, then below it.
        text_block(ops, rng, y, y - dh, size=9, leading=11.5, x=MARGIN + dw + 14,
                   width=PAGE_W - 2 * MARGIN - dw - 14, max_paras=2)
        text_block(ops, rng, y - dh - 14, MARGIN)
        footer(ops, n, d.title)
        d.page('\n'.join(ops), [('Im0', img)])
    d.write(path)


JA_SENTENCES = [
    '本市では、令和六年度の予算編成にあたり、市民サービスの向上と財政の健全化を両立させることを基本方針としています。',
    '各部局は、事業の必要性と効果を改めて検証し、優先順位を明確にしたうえで要求を行ってください。',
    '添付の資料は、前年度の決算見込みと今年度の執行状況をまとめたものです。',
    '会議は、毎月第二水曜日の午後二時から、市役所本庁舎三階の第一会議室で開催します。',
    '出席者は、議題に関する資料を事前に確認し、意見や質問があれば前日までに事務局へ連絡してください。',
    '災害時の避難所運営については、地域の自主防災組織と連携し、定期的な訓練を実施することとします。',
    '住民からの問い合わせには、担当課が責任をもって回答し、その内容を記録として保存してください。',
    '個人情報を含む文書は、施錠できる書庫に保管し、電子データは暗号化したうえで管理します。',
    '電子メールで受信した添付ファイルは、無害化処理を経てから庁内ネットワークに取り込まれます。',
    '見積書の提出期限は来月十五日までとし、郵送または持参により契約課へ提出してください。',
    '本件に関する問い合わせ先は、総務部情報政策課システム担当です。',
    '道路の補修工事に伴い、期間中は一部区間で片側交互通行となります。ご理解とご協力をお願いいたします。',
    '高齢者福祉施設の整備計画について、住民説明会を公民館で開催いたします。',
    '図書館の開館時間は、平日が午前九時から午後八時まで、土曜日と日曜日は午後五時までです。',
    '上下水道の料金改定に関する説明資料を、市のホームページに掲載しました。',
    '職員の皆様には、情報セキュリティ研修を年度内に必ず受講していただくようお願いします。',
]

# Lines mixing Japanese and Latin/ASCII. Each is a list of (font, text):
# 'J' = Japanese font (ASCII in it maps to proportional CIDs), 'L' = Helvetica.
JA_MIXED = [
    [('J', '予算額：'), ('L', '1,234,567'), ('J', '円（前年度比'), ('L', '+3.2%'), ('J', '）')],
    [('J', '担当：情報政策課 TEL 0120-123-456 内線 2345')],
    [('J', '件名：'), ('L', 'Re: Invoice No. INV-2024-0815'), ('J', ' の送付について')],
    [('J', '第３四半期の実績は、計画値１２０％を達成しました（ＡＢＣ方式）。')],
    [('J', 'URL: https://www.city.example.lg.jp/soumu/ をご参照ください。')],
    [('L', 'Meeting ID: 987 6543 2100  '), ('J', '会議室：本庁舎３階 第一会議室')],
]


def make_japanese(path, seed):
    rng = random.Random(seed)
    d = Doc('Japanese notice')
    d.std_font('F1', 'Helvetica')
    d.std_font('F2', 'Helvetica-Bold')
    used = set()
    for s in JA_SENTENCES:
        used.update(s)
    for line in JA_MIXED:
        for f, s in line:
            if f == 'J':
                used.update(s)
    for extra in '第頁号令和年月日お知らせ報告書通知議事録資料一二三四五六七八九十〇０１２３４５６７８９':
        used.add(extra)
    used.update(chr(c) for c in range(0x20, 0x7F))

    # ToUnicode: the codes are UCS-2 already; map the ones used to themselves.
    chars = sorted(used)
    tu = ['/CIDInit /ProcSet findresource begin', '12 dict begin', 'begincmap',
          '/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def',
          '/CMapName /Adobe-Identity-UCS def', '/CMapType 2 def',
          '1 begincodespacerange <0000> <FFFF> endcodespacerange']
    for i in range(0, len(chars), 100):
        chunk = chars[i:i + 100]
        tu.append('%d beginbfchar' % len(chunk))
        tu.extend('<%04X> <%04X>' % (ord(c), ord(c)) for c in chunk)
        tu.append('endbfchar')
    tu += ['endcmap', 'CMapName currentdict /CMap defineresource pop', 'end', 'end']
    tounicode = d.pdf.add_stream('', '\n'.join(tu))

    def type0(base, flags):
        desc = d.pdf.add(
            '<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [-141 -137 1000 859] '
            '/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 859 /StemV 78 '
            '/AvgWidth 500 /MaxWidth 1000 >>' % (base, flags))
        cid = d.pdf.add(
            '<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s '
            '/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 4 >> '
            '/FontDescriptor %d 0 R /DW 1000 /W [1 95 500 231 325 500] >>' % (base, desc))
        return d.pdf.add(
            '<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /UniJIS-UCS2-H '
            '/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>' % (base, cid, tounicode))

    d.fonts['J1'] = type0('MS-Mincho', 6)
    d.fonts['J2'] = type0('MS-Gothic', 4)

    size, leading = 10.5, 17
    per_line = int((PAGE_W - 2 * MARGIN) // size)
    mixed_i = 0
    for n in range(1, PAGES + 1):
        ops = []
        y = PAGE_H - MARGIN
        title = '令和６年度　第%s回　お知らせ（第%s頁）' % (
            '一二三四五六七八九十'[(n - 1) % 10], '０１２３４５６７８９'[n % 10])
        ops.append('BT /J2 16 Tf %g %g Td %s Tj ET' % (MARGIN, y - 16, ucs2_hex(title)))
        y -= 40
        while y > MARGIN + 60:
            if rng.random() < 0.3:
                # A mixed line: runs in the Japanese font and in Helvetica.
                line = JA_MIXED[mixed_i % len(JA_MIXED)]
                mixed_i += 1
                x = MARGIN
                ops.append('BT 1 0 0 1 %g %g Tm' % (x, y - size))
                for f, s in line:
                    if f == 'J':
                        ops.append('/J1 %g Tf %s Tj' % (size, ucs2_hex(s)))
                    else:
                        ops.append('/F1 %g Tf %s Tj' % (size, pdf_str(s)))
                ops.append('ET')
                y -= leading
            else:
                # A paragraph: first line indented by one full-width space.
                para = '　' + ''.join(rng.choice(JA_SENTENCES) for _ in range(rng.randint(1, 3)))
                ops.append('BT /J1 %g Tf %g TL %g %g Td' % (size, leading, MARGIN, y - size))
                first = True
                while para and y > MARGIN + 40:
                    chunk, para = para[:per_line], para[per_line:]
                    # Kinsoku: closing punctuation hangs at the end of the line.
                    while para and para[0] in '。、）」』':
                        chunk, para = chunk + para[0], para[1:]
                    ops.append(('%s Tj' if first else 'T* %s Tj') % ucs2_hex(chunk))
                    first = False
                    y -= leading
                ops.append('ET')
                y -= leading * 0.5
        footer(ops, n, d.title)
        d.page('\n'.join(ops))
    d.write(path)


DOCS = [
    ('text.pdf', make_text),
    ('tables.pdf', make_tables),
    ('images.pdf', make_images),
    ('japanese.pdf', make_japanese),
    ('mixed.pdf', make_mixed),
]


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: make_pdfs.py OUTDIR\n')
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    for i, (name, fn) in enumerate(DOCS):
        fn(os.path.join(out, name), 20240401 + i)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
