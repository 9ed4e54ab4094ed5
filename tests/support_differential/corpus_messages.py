"""The messages of mugaika's corpora, split as tests/common/mod.rs splits them.

* ``corpus/``: every ``*.eml`` is one message.
* ``../shared/corpus-real/``: every file except ``*.md``, ``*.sha256``,
  ``LICENSE*`` and ``SOURCES*``; a file whose name contains ``mbox`` is cut at
  its postmark lines (``From `` + a token + nothing or a weekday), the
  postmark dropped, a leading UTF-8 BOM removed.
* any other directory (fuzz corpora): every regular file is one message.

Dot files and directories are skipped everywhere.
"""

import os

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def is_postmark(line: bytes) -> bool:
    if not line.startswith(b"From "):
        return False
    words = line[5:].decode("utf-8", "replace").split()
    if not words:
        return False
    tail = words[1:]
    return not tail or any(w.startswith(WEEKDAYS) for w in tail[:2])


def split_mbox(data: bytes):
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    msgs, current, pre = [], None, b""
    # Lines end at LF only (bytes.splitlines would also cut at bare CR).
    lines = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        lines.append(data[start:end])
        start = end
    for line in lines:
        if is_postmark(line):
            if current is not None:
                msgs.append(current)
            current = b""
        elif current is not None:
            current += line
        else:
            pre += line
    if current is not None:
        msgs.append(current)
    if pre.strip(b" \t\r\n\x0c"):
        msgs.insert(0, pre)
    return msgs


def files_below(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith("."):
                out.append(os.path.join(dirpath, f))
    return sorted(out)


def is_real_corpus_message(name: str) -> bool:
    return not (name.endswith(".md") or name.endswith(".sha256") or name.startswith("LICENSE")
                or name.startswith("SOURCES"))


def messages(root, kind):
    """Yields (name, bytes). kind: "corpus" (*.eml), "real" (corpus-real
    rules) or "files" (every file is one message)."""
    for path in files_below(root):
        base = os.path.basename(path)
        if kind == "corpus" and not base.endswith(".eml"):
            continue
        if kind == "real" and not is_real_corpus_message(base):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        if kind != "files" and "mbox" in base:
            for i, m in enumerate(split_mbox(data)):
                yield f"{path}#{i + 1}", m
        else:
            yield path, data


def kind_of(root):
    """Guesses the kind of a corpus directory from its name."""
    norm = os.path.normpath(os.path.abspath(root))
    if os.path.basename(norm) == "corpus-real":
        return "real"
    if os.path.basename(norm) == "corpus" and os.path.basename(os.path.dirname(norm)) != "fuzz":
        return "corpus"
    return "files"
