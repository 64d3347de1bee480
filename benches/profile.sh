#!/usr/bin/env bash
# Where the CPU goes, the edge beside nginx: each serves one row of http.sh's bundle on the
# server core while `perf record` samples that core (software `cpu-clock` timer, so it works
# in a VM without hardware counters; kernel symbols need root or perf_event_paranoid <= 1).
# Prints per server the requests/s during the profile, the samples in the kernel and in user
# space (the process's own code and its libraries) per 1,000 requests, then the symbols whose
# samples per 1,000 requests differ most between the two.
#
#   bash benches/profile.sh                          # the JS row (150 KiB file, br)
#   ROW=/ bash benches/profile.sh                    # index.html; ROW=/missing.png, ROW=/product/123
#   KEEP=/tmp/prof bash benches/profile.sh           # keeps perf.edge and perf.nginx for `perf report -i`
#   DURATION=4 TOP=40 SERVER_CPU=0 CLIENT_CPU=1      (the defaults)
#
# Samples taken while interrupts were off land where they come back on (in the kernel,
# `_raw_spin_unlock_irqrestore` collects many), and those right after a system call land on
# the instruction after it in user space: read the kernel's symbols as a rough map, and the
# kernel/user totals as the measurement.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-4}
TOP=${TOP:-30}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
ROW=${ROW:-/assets/app.3f9a1c2b.js}
KEEP=${KEEP:-}
PORT_EDGE=18280 PORT_NGINX=18281

cd "$ROOT"
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
install_missing wrk linux-perf "${NGINX_PACKAGES[@]}"
BASELINE="" BASELINE_BIN="" bench_setup
SITE="$WORK/site"
bench_site "$SITE"
STATIC="$WORK/static"
static_copy "$SITE" "$STATIC"
control_plane_with "$CLIENT_CPU" "$SITE"
start_edge "$BIN/switchyard-edge" "$SERVER_CPU" "$PORT_EDGE"
start_nginx "$SERVER_CPU" "$PORT_NGINX" "$STATIC"

header=()
[[ "$ROW" != *.js ]] || header=(-H "Accept-Encoding: br, gzip")
OUT=${KEEP:-$WORK}
mkdir -p "$OUT"
for server in "edge|$PORT_EDGE|shop.bench.local" "nginx|$PORT_NGINX|x"; do
  IFS='|' read -r name port host <<<"$server"
  url="http://127.0.0.1:$port$ROW"
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "${header[@]}" "$url")
  taskset -c "$CLIENT_CPU" wrk -t1 -c64 -d2s -H "Host: $host" "${header[@]}" "$url" >/dev/null
  # wrk runs a second longer on each side of the profile, so that every sample is under load.
  taskset -c "$CLIENT_CPU" wrk -t1 -c64 "-d$((DURATION + 2))s" -H "Host: $host" "${header[@]}" "$url" >"$WORK/wrk.$name" &
  wrk_pid=$!
  sleep 1
  perf record -q -e cpu-clock -F 4999 -C "$SERVER_CPU" -o "$OUT/perf.$name" -- sleep "$DURATION" 2>/dev/null
  wait "$wrk_pid"
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.$name")
  echo "$name $status $rps" >>"$WORK/servers"
  # Samples by process and by symbol: "samples<TAB>comm<TAB>dso<TAB>symbol".
  perf report -i "$OUT/perf.$name" --stdio --no-children -g none --sort comm,dso,sym \
    -F sample,comm,dso,sym -t $'\t' 2>/dev/null | grep -v '^#' | grep -v '^$' >"$WORK/symbols.$name"
done

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $ROW, wrk -t1 -c64 on CPU $CLIENT_CPU, perf record -e cpu-clock -F 4999 -C $SERVER_CPU for ${DURATION} s ($(nproc) CPUs, $(uname -r))"
echo
python3 - "$WORK" "$DURATION" "$TOP" <<'PY'
import collections, sys
work, seconds, top = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
servers = [line.split() for line in open(f"{work}/servers")]
process = {"edge": "serve-", "nginx": "nginx"}  # the threads doing the serving
per_k = {}  # server -> symbol -> samples per 1,000 requests
print("| server | status | requests/s | samples per 1,000 requests: kernel | user space | all |")
print("|---|---|---:|---:|---:|---:|")
for name, status, rps in servers:
    requests = float(rps) * seconds / 1000
    kernel = user = 0
    symbols = collections.Counter()
    for line in open(f"{work}/symbols.{name}"):
        samples, comm, dso, sym = (f.strip() for f in line.rstrip("\n").split("\t")[:4])
        if not comm.startswith(process[name]):
            continue  # perf itself, kernel threads, the idle task
        if dso == "[kernel.kallsyms]":
            kernel += int(samples)
        else:
            user += int(samples)
        symbols[sym] += int(samples)
    per_k[name] = {s: n / requests for s, n in symbols.items()}
    print(f"| {name} | {status} | {float(rps):.0f} | {kernel / requests:.1f} | {user / requests:.1f} "
          f"| {(kernel + user) / requests:.1f} |")
edge, nginx = per_k["edge"], per_k["nginx"]
print()
print(f"The {top} symbols that differ most (samples per 1,000 requests; `[k]` the kernel's):")
print()
print("| symbol | edge | nginx | edge − nginx |")
print("|---|---:|---:|---:|")
for sym in sorted(set(edge) | set(nginx), key=lambda s: -abs(edge.get(s, 0) - nginx.get(s, 0)))[:top]:
    e, n = edge.get(sym, 0), nginx.get(sym, 0)
    print(f"| `{sym[:90]}` | {e:.2f} | {n:.2f} | {e - n:+.2f} |")
PY
