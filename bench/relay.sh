#!/usr/bin/env bash
# bench/relay.sh — mugaika (sanitising every message) against a plain Postfix relay.
#
# In one run, side by side, on loopback ports only:
#
#   smtp-source ──> mugaika serve ─────────────────────────> smtp-sink #1
#   smtp-source ──> throwaway Postfix (plain relay, no filter) ──> smtp-sink #2
#
# and prints messages per second end to end (first connect until the sink has
# counted every message; for mugaika, quarantined messages count as done since
# they never reach the sink) and the ratio mugaika/postfix, for
#   (a) text messages of --size bytes (smtp-source -l, default 5120), and
#   (b) a mix drawn from ../shared/corpus-real (sent by bench/relaybench.py over
#       --sessions parallel connections; smtp-source can only repeat one file),
# then p50/p99 latency from the end of DATA (the final ".") to the reply,
# timed on the client over --latency-sessions connections.
#
# Every daemon runs from a private temp dir (config, queue, spool, logs) and is
# stopped on exit, whatever the exit path (trap). Nothing is installed unless
# --install is given (root only).
#
# Prerequisites (Debian/Ubuntu), without starting the system Postfix:
#   echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
#   DEBIAN_FRONTEND=noninteractive apt-get install -y postfix
# (smtp-source and smtp-sink ship in the postfix package), python3 (stdlib
# only), and root: Postfix's master must start as root.
#
# Usage: bench/relay.sh [options]       (bench/relay.sh --help)

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PY="${PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in bench/
HELPER="$HERE/relaybench.py"

N=2000
SESSIONS=8
SIZE=5120
LAT_N=500
LAT_S=4
CORPUS="${MUGAIKA_SHARED:-$REPO/../shared}/corpus-real"
TMPBASE="${TMPDIR:-/tmp}"
TIMEOUT=900
INSTALL=0
BUILD=0
KEEP=0
DO_CORPUS=1
DO_LATENCY=1
BIN=""
WORKERS=""
MAX_BACKLOG=""
RCPT_DOMAIN="bench.example.lg.jp"
SENDER="bench@sender.example"
RCPT="user@$RCPT_DOMAIN"

usage() {
    cat <<EOF
Usage: bench/relay.sh [options]

  -n, --messages N          messages per throughput phase (default $N)
  -s, --sessions N          parallel SMTP sessions (default $SESSIONS)
  -l, --size BYTES          body size of the text messages (default $SIZE)
      --quick               smoke run: N=200, 100 latency messages
      --latency-messages N  messages for the latency measurement (default $LAT_N)
      --latency-sessions N  connections for the latency measurement (default $LAT_S)
      --corpus DIR          corpus for the mixed workload (default ../shared/corpus-real)
      --no-corpus           skip the corpus-mix phase
      --no-latency          skip the latency phase
      --timeout SECONDS     give up on one phase after this long (default $TIMEOUT)
      --workers N           mugaika [workers] count (default: its own default, the cores)
      --max-backlog N       mugaika [workers] max_backlog (default: 2*N+1000, so one
                            burst never meets the 451 4.3.2 backpressure that
                            smtp-source cannot retry; the shipped default is 1000)
      --bin PATH            mugaika binary (default target/release/mugaika)
      --build               run 'cargo build --release --bin mugaika' first
                            (done anyway when the binary is missing)
      --install             apt-get install postfix first (root; no system daemon started)
      --tmp DIR             where the temp dir goes (default \$TMPDIR or /tmp;
                            both relays fsync there, so use a real disk)
      --keep                keep the temp dir (configs, spools, logs) afterwards
  -h, --help                this text

Exit status: 0 when every phase completed, 1 when one failed, 2 on a usage or
prerequisite error.
EOF
}

die() { echo "relay.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        -n|--messages) N="${2:?}"; shift 2 ;;
        -s|--sessions) SESSIONS="${2:?}"; shift 2 ;;
        -l|--size) SIZE="${2:?}"; shift 2 ;;
        --quick) N=200; LAT_N=100; shift ;;
        --latency-messages) LAT_N="${2:?}"; shift 2 ;;
        --latency-sessions) LAT_S="${2:?}"; shift 2 ;;
        --corpus) CORPUS="${2:?}"; shift 2 ;;
        --no-corpus) DO_CORPUS=0; shift ;;
        --no-latency) DO_LATENCY=0; shift ;;
        --timeout) TIMEOUT="${2:?}"; shift 2 ;;
        --bin) BIN="${2:?}"; shift 2 ;;
        --workers) WORKERS="${2:?}"; shift 2 ;;
        --max-backlog) MAX_BACKLOG="${2:?}"; shift 2 ;;
        --build) BUILD=1; shift ;;
        --install) INSTALL=1; shift ;;
        --tmp) TMPBASE="${2:?}"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done
for v in N SESSIONS SIZE LAT_N LAT_S TIMEOUT; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for v in WORKERS MAX_BACKLOG; do
    [[ -z "${!v}" || "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
MAX_BACKLOG="${MAX_BACKLOG:-$((2 * N + 1000))}"

# ---------------------------------------------------------------------------
# Prerequisites

export PATH="$PATH:/usr/sbin:/sbin"

if [[ $INSTALL == 1 ]]; then
    [[ $(id -u) == 0 ]] || die "--install needs root"
    command -v apt-get >/dev/null || die "--install needs apt-get (Debian/Ubuntu); install Postfix by hand"
    echo "== installing postfix (debconf: 'No configuration', so no system daemon is set up)"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postfix >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q postfix >/dev/null; } ||
        die "apt-get install postfix failed"
fi

missing=()
for tool in smtp-source smtp-sink postfix postconf; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    cat >&2 <<EOF
relay.sh: missing: ${missing[*]} (all from the Debian package 'postfix').
Install without starting a system mail daemon:
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix
or run this script as root with --install.
EOF
    exit 2
fi
command -v "$PY" >/dev/null || die "python3 is needed (standard library only)"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 8))' || die "python3 >= 3.8 is needed"
[[ -f "$HELPER" ]] || die "missing helper $HELPER"
[[ $(id -u) == 0 ]] || die "run as root: the throwaway Postfix's master process must start as root"
id postfix >/dev/null 2>&1 || die "user 'postfix' missing (is the postfix package installed?)"
getent group postdrop >/dev/null || die "group 'postdrop' missing (is the postfix package installed?)"
SINK_USER=nobody
id "$SINK_USER" >/dev/null 2>&1 || SINK_USER=postfix
if [[ $DO_CORPUS == 1 && ! -d "$CORPUS" ]]; then
    die "corpus not found: $CORPUS (use --corpus DIR or --no-corpus)"
fi

DEFAULT_BIN="$REPO/target/release/mugaika"
BIN="${BIN:-$DEFAULT_BIN}"
if [[ "$BIN" == "$DEFAULT_BIN" && ( $BUILD == 1 || ! -x "$BIN" ) ]]; then
    command -v cargo >/dev/null || die "cargo is needed to build $BIN"
    echo "== cargo build --release --bin mugaika"
    (cd "$REPO" && cargo build --release --bin mugaika) || die "build failed"
fi
[[ -x "$BIN" ]] || die "no mugaika binary at $BIN"
if [[ "$BIN" == "$DEFAULT_BIN" ]]; then
    newer=$(find "$REPO/src" "$REPO/sanitizers/src" "$REPO/Cargo.toml" "$REPO/Cargo.lock" \
        -newer "$BIN" -type f 2>/dev/null | head -n 3 || true)
    if [[ -n "$newer" ]]; then
        echo "relay.sh: warning: $BIN is older than the sources ($(echo $newer | tr '\n' ' ')...);" \
            "pass --build to measure the current code" >&2
    fi
fi

# ---------------------------------------------------------------------------
# Temp dir, cleanup

mkdir -p "$TMPBASE"
T="$(mktemp -d "$TMPBASE/mugaika-bench.XXXXXX")"
chmod 755 "$T"   # Postfix daemons (user postfix) must traverse it to the queue
PIDS=()
MUGAIKA_PID=""
PF_ETC="$T/postfix/etc"
PF_QUEUE="$T/postfix/queue"
PF_STARTED=0
FAILED=0

CHILD=""
helper() {   # run relaybench.py in the background and wait: a signal interrupts the wait
    "$PY" "$HELPER" "$@" &
    CHILD=$!
    local rc=0
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

stop_pid() {   # pid, grace seconds: TERM, wait, then KILL
    local pid="$1" grace="$2" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "relay.sh: pid $pid did not stop in ${grace}s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    set +e
    case $rc in
        129|130|143) echo "relay.sh: interrupted; stopping everything it started" >&2 ;;
    esac
    [[ -n "$CHILD" ]] && stop_pid "$CHILD" 5
    if [[ $PF_STARTED == 1 ]]; then
        local mpid
        mpid=$(tr -d ' \n' < "$PF_QUEUE/pid/master.pid" 2>/dev/null)
        postfix -c "$PF_ETC" stop >/dev/null 2>&1
        if [[ "$mpid" =~ ^[0-9]+$ ]]; then
            for ((i = 0; i < 150; i++)); do
                kill -0 "$mpid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$mpid" 2>/dev/null; then
                echo "relay.sh: Postfix master $mpid still running; killing it and its children" >&2
                pkill -KILL -P "$mpid" 2>/dev/null
                kill -KILL "$mpid" 2>/dev/null
            fi
        fi
    fi
    [[ -n "$MUGAIKA_PID" ]] && stop_pid "$MUGAIKA_PID" 20
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid" 5
    done
    if [[ $rc != 0 || $FAILED == 1 ]]; then
        show_logs
    fi
    if [[ $KEEP == 1 ]]; then
        echo "relay.sh: kept $T (configs, spools, logs)"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

show_logs() {
    if [[ -s "$T/mugaika.log" ]]; then
        echo "---- mugaika log (last 30 lines) ----"
        tail -n 30 "$T/mugaika.log" | sed 's/\x1b\[[0-9;]*m//g'
    fi
    if grep -qE "warning|error|fatal|panic|status=(deferred|bounced)" "$T/postfix/maillog" 2>/dev/null; then
        echo "---- postfix log (problems, last 20) ----"
        grep -E "warning|error|fatal|panic|status=(deferred|bounced)" "$T/postfix/maillog" | tail -n 20
    fi
    for f in "$T"/sink-*.err; do
        [[ -s "$f" ]] && { echo "---- $(basename "$f") ----"; tail -n 10 "$f"; }
    done
    return 0
}

# ---------------------------------------------------------------------------
# Ports, sinks

read -r M_PORT M_SINK M_TELE P_PORT P_SINK <<<"$("$PY" "$HELPER" freeports 5)"

start_sink() {   # name port
    smtp-sink -c -u "$SINK_USER" "127.0.0.1:$2" 256 >"$T/sink-$1.out" 2>"$T/sink-$1.err" &
    PIDS+=($!)
}
start_sink mugaika "$M_SINK"
start_sink postfix "$P_SINK"

# ---------------------------------------------------------------------------
# mugaika

mkdir -p "$T/mugaika-data"
cat >"$T/mugaika.toml" <<EOF
# Generated by bench/relay.sh; every other key keeps its embedded default.
data_dir = "$T/mugaika-data"

[server]
listen = "127.0.0.1:$M_PORT"
relay_domains = ["$RCPT_DOMAIN"]

[workers]
$([[ -n "$WORKERS" ]] && echo "count = $WORKERS")
max_backlog = $MAX_BACKLOG

[outbound]
next_hops = ["127.0.0.1:$M_SINK"]

[telemetry]
listen = "127.0.0.1:$M_TELE"
log_level = "warn"
EOF
"$BIN" check-config "$T/mugaika.toml" >"$T/check-config.out" 2>&1 ||
    { cat "$T/check-config.out" >&2; echo "relay.sh: the generated mugaika config is refused" >&2; exit 2; }
unset MUGAIKA_LOG
NO_COLOR=1 "$BIN" serve --config "$T/mugaika.toml" >"$T/mugaika.log" 2>&1 &
MUGAIKA_PID=$!

# ---------------------------------------------------------------------------
# Postfix: a private instance (own config and queue dir), plain relay, no chroot

mkdir -p "$PF_ETC" "$PF_QUEUE" "$T/postfix/data"
chown postfix "$T/postfix/data"
chmod 700 "$T/postfix/data"
touch "$T/postfix/maillog"
chown postfix "$T/postfix/maillog"
# master.cf: the services a relay needs, chroot off; smtpd on the loopback port.
cat >"$PF_ETC/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$P_PORT inet n -     n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
: >"$PF_ETC/main.cf"
postconf -c "$PF_ETC" -e \
    "compatibility_level = 3.6" \
    "config_directory = $PF_ETC" \
    "queue_directory = $PF_QUEUE" \
    "data_directory = $T/postfix/data" \
    "mail_owner = postfix" \
    "setgid_group = postdrop" \
    "maillog_file = $T/postfix/maillog" \
    "maillog_file_prefixes = $T" \
    "master_service_disable = pickup/unix" \
    "myhostname = postfix-bench.localdomain" \
    "mydomain = localdomain" \
    "myorigin = \$myhostname" \
    "inet_interfaces = 127.0.0.1" \
    "inet_protocols = ipv4" \
    "mydestination =" \
    "local_recipient_maps =" \
    "alias_maps =" \
    "alias_database =" \
    "relay_domains = $RCPT_DOMAIN" \
    "mynetworks = 127.0.0.0/8" \
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
    "relayhost = [127.0.0.1]:$P_SINK" \
    "smtp_dns_support_level = disabled" \
    "default_destination_concurrency_limit = 20" \
    "biff = no" \
    || die "postconf failed"
postfix -c "$PF_ETC" check >>"$T/postfix/start.out" 2>&1 ||
    { cat "$T/postfix/start.out" "$T/postfix/maillog" >&2; die "postfix check failed"; }
PF_STARTED=1
postfix -c "$PF_ETC" start >>"$T/postfix/start.out" 2>&1 ||
    { cat "$T/postfix/start.out" >&2; tail -n 20 "$T/postfix/maillog" >&2; die "postfix start failed"; }

# ---------------------------------------------------------------------------
# Readiness

helper wait-smtp "127.0.0.1:$M_SINK" --timeout 15 || die "smtp-sink for mugaika did not start"
helper wait-smtp "127.0.0.1:$P_SINK" --timeout 15 || die "smtp-sink for postfix did not start"
if ! helper wait-smtp "127.0.0.1:$M_PORT" --timeout 60; then
    FAILED=1
    kill -0 "$MUGAIKA_PID" 2>/dev/null || echo "relay.sh: mugaika exited" >&2
    die "mugaika serve did not answer on 127.0.0.1:$M_PORT"
fi
helper wait-smtp "127.0.0.1:$P_PORT" --timeout 30 || { FAILED=1; die "Postfix did not answer on 127.0.0.1:$P_PORT"; }

RESULTS="$T/results.jsonl"
: >"$RESULTS"
METRICS="http://127.0.0.1:$M_TELE/metrics"

echo "== mugaika relay benchmark: $(nproc) cores, $(uname -sr); $("$BIN" --version 2>/dev/null || echo mugaika)," \
    "$(postconf -c "$PF_ETC" -h mail_version | sed 's/^/Postfix /')"
echo "   N=$N messages per phase, $SESSIONS sessions; text body ${SIZE} B; temp dir $T ($(df -PT "$T" | awk 'NR==2{print $2}'))"
echo "   mugaika: workers.count=${WORKERS:-default ($(nproc))}, workers.max_backlog=$MAX_BACKLOG, other keys default"
echo "   mugaika 127.0.0.1:$M_PORT -> smtp-sink :$M_SINK    postfix 127.0.0.1:$P_PORT -> smtp-sink :$P_SINK"

SRC=()
source_cmd() {   # port count sessions: sets SRC
    SRC=(smtp-source -s "$3" -m "$2" -d -l "$SIZE" -S "relay bench" -M bench-client.example
        -f "$SENDER" -t "$RCPT" "127.0.0.1:$1")
}

throughput() {   # relay port sinkname label workload [extra args...]
    local relay="$1" port="$2" sink="$3" label="$4" workload="$5"
    shift 5
    local metrics=()
    [[ $relay == mugaika ]] && metrics=(--metrics "$METRICS")
    helper throughput --target "127.0.0.1:$port" --label "$label" --relay "$relay" \
        --workload "$workload" --count "$N" --sessions "$SESSIONS" --size "$SIZE" \
        --sender "$SENDER" --rcpt "$RCPT" --sink-out "$T/sink-$sink.out" "${metrics[@]}" \
        --timeout "$TIMEOUT" --results "$RESULTS" "$@" || FAILED=1
}

echo "== warm-up (20 messages each, not counted)"
for r in mugaika postfix; do
    port=$M_PORT; [[ $r == postfix ]] && port=$P_PORT
    metrics=(); [[ $r == mugaika ]] && metrics=(--metrics "$METRICS")
    source_cmd "$port" 20 2
    helper throughput --quiet --target "127.0.0.1:$port" --label "warm-up $r" --count 20 --sessions 2 \
        --sink-out "$T/sink-$r.out" "${metrics[@]}" --timeout 120 -- "${SRC[@]}" ||
        { FAILED=1; die "warm-up through $r failed"; }
done

echo "== (a) ${SIZE} B text messages: smtp-source -s $SESSIONS -m $N -d -l $SIZE"
source_cmd "$M_PORT" "$N" "$SESSIONS"
throughput mugaika "$M_PORT" mugaika "mugaika, text" "text ${SIZE}B" -- "${SRC[@]}"
source_cmd "$P_PORT" "$N" "$SESSIONS"
throughput postfix "$P_PORT" postfix "postfix, text" "text ${SIZE}B" -- "${SRC[@]}"

if [[ $DO_CORPUS == 1 ]]; then
    echo "== (b) corpus mix from $CORPUS ($SESSIONS connections, built-in sender)"
    throughput mugaika "$M_PORT" mugaika "mugaika, corpus" "corpus mix" --corpus "$CORPUS"
    throughput postfix "$P_PORT" postfix "postfix, corpus" "corpus mix" --corpus "$CORPUS"
fi

if [[ $DO_LATENCY == 1 ]]; then
    echo "== (c) end of DATA -> 250: $LAT_N messages of ${SIZE} B over $LAT_S connections"
    for r in mugaika postfix; do
        port=$M_PORT; [[ $r == postfix ]] && port=$P_PORT
        helper latency --target "127.0.0.1:$port" --label "$r" --relay "$r" \
            --count "$LAT_N" --sessions "$LAT_S" --size "$SIZE" --sender "$SENDER" --rcpt "$RCPT" \
            --results "$RESULTS" || FAILED=1
    done
fi

helper summary "$RESULTS" || FAILED=1

# Anything either relay complained about during the run (quarantine decisions
# are mugaika doing its job and are counted apart).
sed 's/\x1b\[[0-9;]*m//g' "$T/mugaika.log" >"$T/mugaika.plain.log"
mquar=$(grep -E " WARN .* quarantined " "$T/mugaika.plain.log" | grep -cv "^$" || true)
mprob=$(grep -E "WARN|ERROR|panicked" "$T/mugaika.plain.log" | grep -cvE " WARN .* quarantined " || true)
pprob=$(grep -cE "warning|error|fatal|panic|status=(deferred|bounced)" "$T/postfix/maillog" || true)
echo "relay logs: mugaika $mquar quarantine decisions and $mprob other warning/error lines; postfix $pprob problem lines"
if [[ $mquar != 0 ]]; then
    echo "---- mugaika quarantine reasons ----"
    grep -E " WARN .* quarantined " "$T/mugaika.plain.log" | grep -o 'reasons=.*' | sort | uniq -c | sort -rn | head -n 10
fi
if [[ $mprob != 0 ]]; then
    echo "---- mugaika (first 10) ----"
    grep -E "WARN|ERROR|panicked" "$T/mugaika.plain.log" | grep -vE " WARN .* quarantined " | head -n 10
fi
if [[ $pprob != 0 ]]; then
    echo "---- postfix (first 10) ----"
    grep -E "warning|error|fatal|panic|status=(deferred|bounced)" "$T/postfix/maillog" | head -n 10
fi
if [[ $KEEP == 1 ]]; then
    cp "$RESULTS" "$T/results-final.jsonl"
fi

[[ $FAILED == 0 ]] || exit 1
exit 0
