#!/usr/bin/env bash
# Edge throughput, side by side in one run: Switchyard's edge, nginx, static-web-server and a
# bare hyper server (fixed bytes from memory: the floor cost of the HTTP stack), all serving
# the same bundle. Each server is pinned to one core and wrk to another.
#
#   bash benches/http.sh            # DURATION=10s CONNECTIONS=64 SERVER_CPU=0 CLIENT_CPU=1
#   BASELINE=9e2eded bash benches/http.sh   # also the edge built from that commit, same run
#   ROUNDS=5 DURATION=5s bash benches/http.sh  # 5 rounds, medians of requests/s and of ratios
#   ONLY=edge BASELINE=9e2eded ROUNDS=9 bash benches/http.sh   # the two edges only
#   ONLY='edge|nginx' ONLY_ROWS=app.js ROUNDS=9 bash benches/http.sh   # one row, two servers
#
# Installs what it needs (wrk, nginx with brotli_static, brotli, static-web-server) and prints
# a Markdown table for benches/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_EDGE=18080 PORT_NGINX=18081 PORT_SWS=18082 PORT_HYPER=18083 PORT_HYPER2=18084 PORT_BASE=18085
BASELINE=${BASELINE:-}
BASELINE_BIN=${BASELINE_BIN:-} # or an edge binary built already (its label: BASELINE or the path)
ROUNDS=${ROUNDS:-1}
ONLY=${ONLY:-} # a regex: only the servers whose name matches it (e.g. ONLY=edge)
ONLY_ROWS=${ONLY_ROWS:-} # a regex: only the rows whose name matches it (e.g. ONLY_ROWS=app.js)

cd "$ROOT"
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
install_missing wrk "${NGINX_PACKAGES[@]}"
command -v static-web-server >/dev/null || cargo install --locked static-web-server
bench_setup # WORK, pids, cleanup on exit, the baseline edge, release binaries in BIN

# --- The bundle: a 2 KiB index.html, a 150 KiB fingerprinted JS file, a rewrite rule. ---
SITE="$WORK/site"
bench_site "$SITE"
# nginx and static-web-server get the same files with .br/.gz next to them (their way of
# serving precompressed files); the edge gets the bundle and precompresses at deploy.
STATIC="$WORK/static"
static_copy "$SITE" "$STATIC"

# --- Switchyard: the control plane on the client core (idle during the runs).
control_plane_with "$CLIENT_CPU" "$SITE"

# static-web-server: one worker thread (pinned to one core), precompressed files.
cat >"$WORK/sws.toml" <<CONF
[general]
host = "127.0.0.1"
port = $PORT_SWS
root = "$STATIC"
log-level = "error"
compression = false
compression-static = true
threads-multiplier = 1
[advanced]
[[advanced.rewrites]]
source = "/product/**"
destination = "/index.html"
CONF

# Starts one server, by its name in SERVERS, on the server core.
start_server() {
  case "$1" in
    switchyard-edge) start_edge "$BIN/switchyard-edge" "$SERVER_CPU" "$PORT_EDGE" ;;
    "switchyard-edge @ "*) start_edge "$WORK/switchyard-edge-baseline" "$SERVER_CPU" "$PORT_BASE" ;;
    # One worker, sendfile, open_file_cache, no access log, precompressed files.
    nginx) start_nginx "$SERVER_CPU" "$PORT_NGINX" "$STATIC" ;;
    static-web-server)
      taskset -c "$SERVER_CPU" static-web-server --config-file "$WORK/sws.toml" >/dev/null 2>&1 &
      pids+=($!)
      wait_http "http://127.0.0.1:$PORT_SWS/" x
      ;;
    # index.html's bytes from memory for any request, twice: with exactly the headers the edge
    # sends for it (the same response bytes: the floor cost of the HTTP stack for this
    # response; read from the edge, which the first round starts first), and with a
    # content-type alone (the floor of any response).
    "bare hyper, same headers")
      [ -s "$WORK/edge-headers" ] || edge_headers "$PORT_EDGE" >"$WORK/edge-headers"
      start_bare_hyper "$SERVER_CPU" "$PORT_HYPER" "$SITE/index.html" "$WORK/edge-headers"
      ;;
    "bare hyper, content-type only") start_bare_hyper "$SERVER_CPU" "$PORT_HYPER2" "$SITE/index.html" ;;
    *) echo "http.sh: no way to start server $1" >&2 && exit 1 ;;
  esac
}

# Stops the servers of the previous round and starts every server afresh, in the order given
# (the names in SERVERS). Whatever a process keeps for its lifetime (where its memory and
# code landed, the page cache's state for its binary: a few percent between two copies of
# one edge in `ab.sh`'s control runs) then varies between rounds instead of tilting every
# round of one server the same way.
RUNNING=()
start_servers() {
  if [ ${#RUNNING[@]} -gt 0 ]; then
    stop_servers "${RUNNING[@]}"
  fi
  local first=${#pids[@]} server
  for server in "$@"; do start_server "${server%%|*}"; done
  RUNNING=("${pids[@]:first}")
}

# --- Rows: name, path, extra header. Each server is checked for the right answer first.
ROWS=("index.html (2 KiB)|/|" "app.js (150 KiB, br)|/assets/app.3f9a1c2b.js|Accept-Encoding: br, gzip" "404|/missing.png|" "_redirects rewrite|/product/123|")
SERVERS=("switchyard-edge|$PORT_EDGE|shop.bench.local" "nginx|$PORT_NGINX|x" "static-web-server|$PORT_SWS|x"
  "bare hyper, same headers|$PORT_HYPER|x" "bare hyper, content-type only|$PORT_HYPER2|x")
[ -z "$BASELINE" ] || SERVERS+=("switchyard-edge @ $BASELINE|$PORT_BASE|shop.bench.local")

check() { # port host path header → "status encoding bytes"
  local args=(-s -o /dev/null -w '%{http_code} %header{content-encoding} %{size_download}' -H "Host: $2")
  [ -n "$4" ] && args+=(-H "$4")
  curl "${args[@]}" "http://127.0.0.1:$1$3"
}

bench() { # port host path header → "rps p50 p99 server-busy client-busy" (the last two: each
  # core's non-idle clock ticks over the measured run, every process, softirqs included)
  local args=(-t1 "-c$CONNECTIONS" "-d$DURATION" --latency -H "Host: $2")
  [ -n "$4" ] && args+=(-H "$4")
  # A short warm-up first (connections, caches, the allocator), then the measured run.
  taskset -c "$CLIENT_CPU" wrk -t1 "-c$CONNECTIONS" -d2s -H "Host: $2" ${4:+-H "$4"} "http://127.0.0.1:$1$3" >/dev/null
  local s0 c0
  s0=$(cpu_busy_ticks "$SERVER_CPU") c0=$(cpu_busy_ticks "$CLIENT_CPU")
  taskset -c "$CLIENT_CPU" wrk "${args[@]}" "http://127.0.0.1:$1$3" >"$WORK/wrk.out"
  local busy="$(($(cpu_busy_ticks "$SERVER_CPU") - s0)) $(($(cpu_busy_ticks "$CLIENT_CPU") - c0))"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
  if grep -q "Non-2xx\|Socket errors" "$WORK/wrk.out"; then
    grep "Non-2xx\|Socket errors" "$WORK/wrk.out" | sed 's/^ */  note: /' >&2
  fi
  echo "$rps $p50 $p99 $busy"
}

# One cell per (round, row, server). Every round starts the servers afresh; rounds alternate
# the servers' order (the edge started and measured first in odd rounds, last in even ones),
# so a drift of the machine's speed during a round falls on both sides of each ratio.
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  order=("${SERVERS[@]}")
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done
  fi
  start_servers "${order[@]}"
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name path header <<<"$row"
    if [ -n "$ONLY_ROWS" ] && ! [[ "$name" =~ $ONLY_ROWS ]]; then continue; fi
    for server in "${order[@]}"; do
      IFS='|' read -r sname port host <<<"$server"
      if [[ "$sname" == bare* ]] && [ "$path" != "/" ]; then continue; fi
      if [ -n "$ONLY" ] && ! [[ "$sname" =~ $ONLY ]]; then continue; fi
      answer=$(check "$port" "$host" "$path" "$header")
      read -r rps p50 p99 sbusy cbusy <<<"$(bench "$port" "$host" "$path" "$header")"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$sname" "$answer" "$rps" "$p50" "$p99" \
        "$sbusy" "$cbusy" >>"$RESULTS"
    done
  done
done

echo "# $(date -u +%Y-%m-%dT%H:%MZ) wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS round(s), servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU ($(nproc) CPUs, $(uname -m))"
echo
# With one round: each cell. With more: per row and server the median requests/s, and the
# median over rounds of the edge's requests/s divided by that server's in the same round,
# with the lowest and highest of those ratios. Every row also shows how busy the server's
# core and wrk's core were (median): a server core well below 100 % while wrk's is near it
# means wrk, not the server, set that cell's pace; then the server core's CPU time per
# request (all of that core's non-idle time, softirqs included, over requests served) is
# what tells the servers apart.
python3 - "$RESULTS" "$ROUNDS" "$(getconf CLK_TCK)" "${DURATION%s}" <<'PY'
import statistics, sys
rows, rounds = {}, int(sys.argv[2])
tick, seconds = 1 / int(sys.argv[3]), float(sys.argv[4])
for line in open(sys.argv[1]):
    rnd, row, server, answer, rps, p50, p99, sbusy, cbusy = line.rstrip("\n").split("\t")
    rows.setdefault(row, {}).setdefault(server, []).append(
        (int(rnd), answer, float(rps), p50, p99, int(sbusy) * tick, int(cbusy) * tick))

def cpu(cells):  # "server core busy / wrk core busy | server core µs per request"
    s = statistics.median(c[5] for c in cells) / seconds
    w = statistics.median(c[6] for c in cells) / seconds
    us = statistics.median(c[5] * 1e6 / (c[2] * seconds) for c in cells)
    return f"{s:.0%} / {w:.0%} | {us:.1f}"

if rounds == 1:
    print("| row | server | answer (status, encoding, bytes) | requests/s | p50 | p99 | edge ÷ this "
          "| server core / wrk core busy | server core µs per request |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
else:
    print("| row | server | answer (status, encoding, bytes) | requests/s (median) | edge ÷ this (median) "
          "| lowest–highest | server core / wrk core busy | server core µs per request |")
    print("|---|---|---|---:|---:|---|---:|---:|")
for row, servers in rows.items():
    edge = {c[0]: c[2] for c in servers.get("switchyard-edge", [])}
    for server, cells in servers.items():
        ratios = [edge[c[0]] / c[2] for c in cells if c[0] in edge]
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
        if rounds == 1:
            _, answer, rps, p50, p99, *_ = cells[0]
            print(f"| {row} | {server} | {answer} | {rps:.2f} | {p50} | {p99} | {ratio} | {cpu(cells)} |")
        else:
            median = statistics.median(c[2] for c in cells)
            spread = f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "-"
            print(f"| {row} | {server} | {cells[0][1]} | {median:.0f} | {ratio} | {spread} | {cpu(cells)} |")
PY
