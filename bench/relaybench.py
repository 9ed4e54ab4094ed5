#!/usr/bin/env python3
"""Client side of bench/relay.sh: SMTP senders, the end-to-end timer and the report.

Standard library only. Subcommands:

  freeports N                 print N distinct free TCP ports on 127.0.0.1
  wait-smtp HOST:PORT         wait until an SMTP greeting (220) is read there
  throughput ...              time N messages from the first connect until the
                              sink has counted all of them (see `--help`)
  latency ...                 end-of-DATA -> reply latency over a few connections
  summary RESULTS.jsonl       print the side-by-side table

How "done" is decided (throughput): smtp-sink runs with `-c`, which rewrites a
line `sess=.. quit=.. mesg=N` on its stdout (a file) after every message; the
timer polls that counter every 10 ms. For mugaika, messages it quarantines (or
bounces) never reach the sink, so its `/metrics` counters are polled as well and
a phase is complete when sink + quarantined + bounced (deltas since the phase
started) reach the number of messages the relay acknowledged with 250.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import smtplib
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

MESG_RE = re.compile(rb"mesg=(\d+)")


# --------------------------------------------------------------------------
# small utilities

def free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def split_hostport(text):
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def wait_smtp(hostport, timeout):
    host, port = split_hostport(hostport)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(5)
                greeting = s.recv(512)
                if greeting.startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return True
                last = greeting
        except OSError as e:
            last = e
        time.sleep(0.1)
    print(f"relaybench: no SMTP greeting from {hostport} after {timeout}s ({last!r})", file=sys.stderr)
    return False


def sink_count(path):
    """Last `mesg=N` written by `smtp-sink -c` (0 before the first message)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256))
            tail = f.read()
    except OSError:
        return 0
    found = MESG_RE.findall(tail)
    return int(found[-1]) if found else 0


def metrics(url):
    """Counters from a Prometheus text page; {} when unreachable."""
    if not url:
        return {}
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode("utf-8", "replace")
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) == 2 and "{" not in parts[0]:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def out_of_band(m):
    """Messages that end without reaching the sink (mugaika's counters)."""
    return m.get("mugaika_quarantined_total", 0) + m.get("mugaika_bounced_total", 0)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


# --------------------------------------------------------------------------
# messages

def to_wire(raw):
    """CRLF line ends (bare LF and bare CR become CRLF), dot-stuffed, ending in CRLF."""
    data = re.sub(rb"\r\n|\n|\r", b"\r\n", raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data


def text_message(size, sender, rcpt, seq=0):
    """A plain-text message whose body is `size` bytes of ASCII prose lines."""
    words = ("relay sanitise municipal gateway message plain text harmless "
             "delivery spool queue bench latency throughput").split()
    rng = random.Random(seq)
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(10))[:76]
        lines.append(line)
        total += len(line) + 2
    body = "\r\n".join(lines) + "\r\n"
    head = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench {seq}\r\n"
            f"Date: Thu, 26 Nov 2026 12:00:00 +0900\r\n"
            f"Message-ID: <bench.{seq}.{os.getpid()}@bench.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    return to_wire((head + body).encode("ascii"))


def corpus_files(root):
    """Single-message files of the corpus (mbox files, licences and notes are skipped)."""
    skip_names = {"LICENSE", "MANIFEST.sha256", "SOURCES.md", "README.md"}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name in skip_names or "mbox" in name.lower() or name.endswith(".md"):
                continue
            found.append(os.path.join(dirpath, name))
    return found


def corpus_mix(root, count, seed):
    files = corpus_files(root)
    if not files:
        raise SystemExit(f"relaybench: no message files under {root}")
    payloads = []
    for path in files:
        with open(path, "rb") as f:
            payloads.append(to_wire(f.read()))
    order = list(range(len(payloads)))
    rng = random.Random(seed)
    mix = []
    while len(mix) < count:
        rng.shuffle(order)
        mix.extend(order)
    return [payloads[i] for i in mix[:count]], len(files)


# --------------------------------------------------------------------------
# the SMTP client (persistent connections, one transaction after another)

class Client:
    """One SMTP session. `send` returns (code, text, seconds from the end of DATA to the reply)."""

    def __init__(self, host, port, helo="bench-client.example", timeout=120):
        self.host, self.port, self.helo, self.timeout = host, port, helo, timeout
        self.smtp = None

    def connect(self):
        self.smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.helo, timeout=self.timeout)
        self.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code, msg = self.smtp.ehlo()
        if code != 250:
            raise smtplib.SMTPResponseException(code, msg)

    def send(self, sender, rcpt, wire):
        if self.smtp is None:
            self.connect()
        s = self.smtp
        code, msg = s.mail(sender)
        if code != 250:
            s.rset()
            return code, msg, None
        code, msg = s.rcpt(rcpt)
        if code not in (250, 251):
            s.rset()
            return code, msg, None
        s.putcmd("data")
        code, msg = s.getreply()
        if code != 354:
            s.rset()
            return code, msg, None
        s.sock.sendall(wire + b".\r\n")
        t = time.perf_counter()
        code, msg = s.getreply()
        return code, msg, time.perf_counter() - t

    def close(self):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.smtp = None


def run_senders(host, port, sessions, payloads, sender, rcpt, result, done_event=None):
    """Send every payload over `sessions` persistent connections; fills `result`."""
    lock = threading.Lock()
    state = {"next": 0}
    result.update(accepted=0, rejected=0, errors=0, latencies=[], samples=[])

    def take():
        with lock:
            i = state["next"]
            if i >= len(payloads):
                return None
            state["next"] = i + 1
            return i

    def note(kind, detail):
        with lock:
            result[kind] += 1
            if len(result["samples"]) < 10:
                result["samples"].append(detail)

    def worker():
        client = Client(host, port)
        try:
            while True:
                i = take()
                if i is None:
                    break
                try:
                    code, msg, lat = client.send(sender, rcpt, payloads[i])
                except (smtplib.SMTPException, OSError) as e:
                    note("errors", f"message {i}: {type(e).__name__}: {e}")
                    client.smtp = None
                    continue
                if 200 <= code < 300:
                    with lock:
                        result["accepted"] += 1
                        if lat is not None:
                            result["latencies"].append(lat)
                else:
                    note("rejected", f"message {i}: {code} {msg.decode('utf-8', 'replace')}")
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if done_event is not None:
        done_event.set()


# --------------------------------------------------------------------------
# subcommands

def cmd_throughput(a):
    host, port = split_hostport(a.target)
    base_sink = sink_count(a.sink_out)
    base_m = metrics(a.metrics)
    base_oob = out_of_band(base_m)
    base_acc = base_m.get("mugaika_accepted_total", 0)

    result = {}
    finished = threading.Event()
    payloads = None
    files = None
    if a.corpus:
        payloads, files = corpus_mix(a.corpus, a.count, a.seed)
    elif not a.source_cmd:
        payloads = [text_message(a.size, a.sender, a.rcpt, i) for i in range(min(a.count, 64))]
        payloads = [payloads[i % len(payloads)] for i in range(a.count)]

    t0 = time.perf_counter()
    proc = None
    if payloads is not None:
        th = threading.Thread(target=run_senders,
                              args=(host, port, a.sessions, payloads, a.sender, a.rcpt, result, finished),
                              daemon=True)
        th.start()
    else:
        proc = subprocess.Popen(a.source_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        return measure(a, t0, proc, result, finished, payloads, files, base_sink, base_oob, base_acc, base_m)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(a, t0, proc, result, finished, payloads, files, base_sink, base_oob, base_acc, base_m):
    t_inbound = None
    source_rc = None
    source_err = b""
    expected = a.count
    t_done = None
    last_m = base_m
    next_metrics = 0.0
    last_progress = time.perf_counter()
    last_change = time.perf_counter()
    last_seen = (-1, -1)
    deadline = t0 + a.timeout
    while True:
        now = time.perf_counter()
        if t_inbound is None:
            if proc is not None and proc.poll() is not None:
                t_inbound = now
                source_rc = proc.returncode
                source_err = proc.stderr.read()
                if source_rc == 0:
                    result.update(accepted=a.count, rejected=0, errors=0)
                else:
                    # smtp-source stops at the first unexpected reply: count what got through.
                    result.update(accepted=None, rejected=None, errors=1)
            elif proc is None and finished.is_set():
                t_inbound = now
            if t_inbound is not None and result.get("accepted") is not None:
                expected = result["accepted"]
        delivered = sink_count(a.sink_out) - base_sink
        if a.metrics and now >= next_metrics:
            m = metrics(a.metrics)
            if m:
                last_m = m
            next_metrics = now + 0.05
        oob = out_of_band(last_m) - base_oob
        if a.metrics and t_inbound is not None and result.get("accepted") is None:
            expected = int(last_m.get("mugaika_accepted_total", 0) - base_acc) or expected
        if (delivered, oob) != last_seen:
            last_seen = (delivered, oob)
            last_change = now
        if delivered + oob >= expected and (t_inbound is not None or delivered + oob >= a.count):
            t_done = now
            if t_inbound is None:
                # Every message arrived; let the sender finish (QUIT) before reporting.
                if proc is not None:
                    proc.wait()
                    source_rc = proc.returncode
                    source_err = proc.stderr.read()
                else:
                    finished.wait()
                t_inbound = t_done
            break
        if t_inbound is not None and result.get("accepted") is None and now - last_change > 5:
            break  # smtp-source failed and nothing moves any more
        if now > deadline:
            break
        if now - last_progress > 15 and not a.quiet:
            print(f"  [{a.label}] {delivered} at the sink, {oob:.0f} quarantined/bounced, "
                  f"{now - t0:.0f}s", file=sys.stderr, flush=True)
            last_progress = now
        time.sleep(0.01)

    if a.metrics:
        last_m = metrics(a.metrics) or last_m
    delivered = sink_count(a.sink_out) - base_sink
    oob = out_of_band(last_m) - base_oob
    ok = t_done is not None and not result.get("errors") and (source_rc in (None, 0))
    elapsed = (t_done or time.perf_counter()) - t0
    rec = {
        "kind": "throughput", "label": a.label, "relay": a.relay, "workload": a.workload,
        "ok": ok, "count": a.count, "sessions": a.sessions,
        "accepted": result.get("accepted"), "rejected": result.get("rejected"),
        "errors": result.get("errors"), "at_sink": delivered,
        "quarantined_or_bounced": oob, "elapsed_s": round(elapsed, 4),
        "inbound_s": round((t_inbound or time.perf_counter()) - t0, 4),
        "rate": round(a.count / elapsed, 2) if ok and elapsed > 0 else None,
        "inbound_rate": round(a.count / ((t_inbound or t0) - t0), 2) if ok and t_inbound and t_inbound > t0 else None,
    }
    if ok and result.get("accepted") is not None and delivered + oob > result["accepted"]:
        rec["extra_at_sink"] = int(delivered + oob - result["accepted"])  # duplicates?
    if files is not None:
        rec["corpus_files"] = files
        rec["bytes"] = sum(len(p) for p in payloads)
    if result.get("samples"):
        rec["samples"] = result["samples"]
    if source_err:
        rec["source_stderr"] = source_err.decode("utf-8", "replace")[-2000:]
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    if not ok:
        rec["why"] = ("timeout" if t_done is None and time.perf_counter() > deadline else
                      "sender failed" if (source_rc not in (None, 0) or result.get("errors")) else
                      "incomplete")
    if a.results:
        with open(a.results, "a") as f:
            f.write(json.dumps(rec) + "\n")
    if ok and not a.quiet:
        extra = f", {oob:.0f} quarantined/bounced" if oob else ""
        print(f"  [{a.label}] {a.count} messages in {elapsed:.2f}s = {rec['rate']:.1f} msg/s end to end "
              f"(inbound done after {rec['inbound_s']:.2f}s{extra})", flush=True)
        if rec.get("extra_at_sink"):
            print(f"  [{a.label}] WARNING: {rec['extra_at_sink']} more messages arrived than were accepted "
                  "(duplicate deliveries?)", flush=True)
    if ok and rec.get("rejected"):
        print(f"  [{a.label}] note: {rec['rejected']} messages refused by the relay:", flush=True)
        for s in rec.get("samples", []):
            print(f"      {s}", flush=True)
    if not ok:
        print(f"  [{a.label}] FAILED ({rec['why']}): accepted={rec['accepted']} rejected={rec['rejected']} "
              f"errors={rec['errors']} at_sink={delivered} quarantined/bounced={oob:.0f} "
              f"after {elapsed:.1f}s", flush=True)
        for s in rec.get("samples", []):
            print(f"      {s}", flush=True)
        if source_err:
            print("      smtp-source: " + rec["source_stderr"].strip().replace("\n", "\n      "), flush=True)
    return 0 if ok else 1


def cmd_latency(a):
    host, port = split_hostport(a.target)
    payloads = [text_message(a.size, a.sender, a.rcpt, i) for i in range(a.count)]
    result = {}
    run_senders(host, port, a.sessions, payloads, a.sender, a.rcpt, result)
    lat = sorted(result["latencies"])
    ok = len(lat) == a.count and not result["errors"] and not result["rejected"]
    rec = {
        "kind": "latency", "label": a.label, "relay": a.relay, "ok": ok,
        "count": a.count, "sessions": a.sessions, "accepted": result["accepted"],
        "rejected": result["rejected"], "errors": result["errors"],
        "p50_ms": round(percentile(lat, 50) * 1000, 3) if lat else None,
        "p99_ms": round(percentile(lat, 99) * 1000, 3) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 3) if lat else None,
        "max_ms": round(lat[-1] * 1000, 3) if lat else None,
    }
    if result["samples"]:
        rec["samples"] = result["samples"]
    if a.results:
        with open(a.results, "a") as f:
            f.write(json.dumps(rec) + "\n")
    if lat:
        print(f"  [{a.label}] end of DATA -> reply over {len(lat)} messages: p50 {rec['p50_ms']:.2f} ms, "
              f"p99 {rec['p99_ms']:.2f} ms, max {rec['max_ms']:.2f} ms"
              + ("" if ok else f" (rejected {result['rejected']}, errors {result['errors']})"), flush=True)
    else:
        print(f"  [{a.label}] FAILED: no message accepted", flush=True)
    for s in result["samples"]:
        print(f"      {s}", flush=True)
    return 0 if ok else 1


def fmt(v, spec):
    return format(v, spec) if isinstance(v, (int, float)) else "n/a"


def cmd_summary(a):
    recs = []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    tp = {(r["workload"], r["relay"]): r for r in recs if r["kind"] == "throughput"}
    lat = {r["relay"]: r for r in recs if r["kind"] == "latency"}
    workloads = []
    for r in recs:
        if r["kind"] == "throughput" and r["workload"] not in workloads:
            workloads.append(r["workload"])
    print()
    print(f"{'':30s} {'mugaika':>12s} {'postfix':>12s} {'mugaika/postfix':>16s}")
    failed = False
    ratios = []
    for w in workloads:
        m, p = tp.get((w, "mugaika")), tp.get((w, "postfix"))
        mr = m["rate"] if m else None
        pr = p["rate"] if p else None
        ratio = mr / pr if mr and pr else None
        if ratio is not None:
            ratios.append(ratio)
        failed |= not (m and m["ok"] and p and p["ok"])
        print(f"{w + ' msg/s (end to end)':30s} {fmt(mr, '12.1f')} {fmt(pr, '12.1f')} "
              f"{fmt(ratio, '15.2f') + ('x' if ratio else ' '):>16s}")
        mi = m.get("inbound_rate") if m else None
        pi = p.get("inbound_rate") if p else None
        print(f"{'  (inbound 250s/s)':30s} {fmt(mi, '12.1f')} {fmt(pi, '12.1f')}")
        if m and m.get("quarantined_or_bounced"):
            print(f"{'  (mugaika quarantined)':30s} {fmt(m['quarantined_or_bounced'], '12.0f')}")
    if lat:
        m, p = lat.get("mugaika"), lat.get("postfix")
        failed |= not (m and m["ok"] and p and p["ok"])
        for key, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
            mv = m.get(key) if m else None
            pv = p.get(key) if p else None
            print(f"{'end of DATA -> 250 ' + name + ' (ms)':30s} {fmt(mv, '12.2f')} {fmt(pv, '12.2f')}")
    if ratios:
        met = all(r >= 1.0 for r in ratios)
        print(f"target mugaika >= 1.0x plain Postfix: {'met' if met else 'NOT met'} "
              f"(lowest ratio {min(ratios):.2f}x)")
    print()
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("freeports")
    p.add_argument("n", type=int)

    p = sub.add_parser("wait-smtp")
    p.add_argument("target")
    p.add_argument("--timeout", type=float, default=60)

    def common(p):
        p.add_argument("--target", required=True, help="relay HOST:PORT")
        p.add_argument("--label", required=True)
        p.add_argument("--relay", default="")
        p.add_argument("--count", type=int, default=2000)
        p.add_argument("--sessions", type=int, default=8)
        p.add_argument("--size", type=int, default=5120)
        p.add_argument("--sender", default="bench@sender.example")
        p.add_argument("--rcpt", default="user@bench.example.lg.jp")
        p.add_argument("--results", help="append a JSON line here")
        p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("throughput")
    common(p)
    p.add_argument("--workload", default="5KB")
    p.add_argument("--sink-out", required=True, help="stdout file of `smtp-sink -c`")
    p.add_argument("--metrics", default="", help="mugaika /metrics URL (quarantined/bounced)")
    p.add_argument("--corpus", help="send a mix drawn from this directory")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("source_cmd", nargs=argparse.REMAINDER,
                   help="-- smtp-source ARGS... (otherwise the built-in sender is used)")

    p = sub.add_parser("latency")
    common(p)

    p = sub.add_parser("summary")
    p.add_argument("results")

    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.cmd == "freeports":
        print(" ".join(str(x) for x in free_ports(a.n)))
        return 0
    if a.cmd == "wait-smtp":
        return 0 if wait_smtp(a.target, a.timeout) else 1
    if a.cmd == "throughput":
        if a.source_cmd and a.source_cmd[0] == "--":
            a.source_cmd = a.source_cmd[1:]
        return cmd_throughput(a)
    if a.cmd == "latency":
        return cmd_latency(a)
    if a.cmd == "summary":
        return cmd_summary(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
