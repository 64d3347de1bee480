#!/usr/bin/env bash
# This tree's edge against another build of it, both serving at the same time on one core:
# the two edges share CPU $SERVER_CPU (the scheduler gives each about half), two `wrk`s share
# CPU $CLIENT_CPU, one per edge, same connections and duration. Whatever slows the machine
# during a cell (other tenants, frequency) slows both edges alike, so the ratio of their
# requests/s is the ratio of their cost per request even when the absolute numbers swing by
# 2x between cells (as they do on these shared machines, see README.md).
#
#   BASELINE=9e2eded bash benches/ab.sh                 # builds that commit's edge first
#   BASELINE_BIN=/path/to/switchyard-edge bash benches/ab.sh
#   ROUNDS=8 DURATION=5s CONNECTIONS=64 SERVER_CPU=0 CLIENT_CPU=1   (the defaults)
#   BASELINE_BIN=target/release/switchyard-edge bash benches/ab.sh   # the control: 1.00 ± noise
#   VERSUS=nginx bash benches/ab.sh        # this tree's edge against nginx (http.sh's config)
#   VERSUS=bare-hyper bash benches/ab.sh   # against bare hyper sending the edge's bytes for `/`
#   THIS_BIN=/path/to/switchyard-edge BASELINE_BIN=... bash benches/ab.sh   # two builds, neither this tree's
#
# With VERSUS, the other server stands where the baseline edge would: the same files (for
# nginx, with its .br/.gz copies), the same core, half the rounds started first. Bare hyper
# answers every request with index.html and the headers the edge sends a new visitor, so it
# runs that row only.
#
# Rows: the bundle of http.sh; `/` from a new visitor (no cookies, as wrk sends) and from a
# returning one (`sy_id` and `sy_v` cookies), the JS file with brotli, a 404 and a rewrite.
# Prints per row the median over rounds of (this tree's requests/s ÷ the baseline's), with
# the lowest and highest round, and each edge's CPU time (user + system, /proc) per request:
# when the client CPU is busy near 100 % the two wrks, not the edges, set the pace (a bigger
# answer costs its wrk more), and the CPU per request is what tells the edges apart. As a
# Markdown table for benches/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-8}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASELINE=${BASELINE:-}
BASELINE_BIN=${BASELINE_BIN:-}
THIS_BIN=${THIS_BIN:-} # in place of this tree's edge (e.g. another link of it, `layout.sh`)
VERSUS=${VERSUS:-}
PORT_EDGE=18180 PORT_BASE=18181
case "$VERSUS" in
  "") [ -n "$BASELINE$BASELINE_BIN" ] || { echo "set BASELINE=<commit>, BASELINE_BIN=<edge binary> or VERSUS=nginx|bare-hyper" >&2; exit 2; } ;;
  nginx | bare-hyper) [ -z "$BASELINE$BASELINE_BIN" ] || { echo "VERSUS takes no BASELINE" >&2; exit 2; } ;;
  *) echo "VERSUS is nginx or bare-hyper, not $VERSUS" >&2; exit 2 ;;
esac
((ROUNDS % 2 == 0)) || { echo "ROUNDS must be even: half the rounds start each edge first (a multiple of 4 also balances which wrk starts first)" >&2; exit 2; }
cd "$ROOT"
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
if [ "$VERSUS" = nginx ]; then install_missing wrk "${NGINX_PACKAGES[@]}"; else install_missing wrk; fi
bench_setup # WORK, pids, cleanup on exit, the baseline edge, release binaries in BIN
[ -z "$THIS_BIN" ] || cp "$THIS_BIN" "$BIN/switchyard-edge"

bench_site "$WORK/site"
control_plane_with "$CLIENT_CPU" "$WORK/site"
[ "$VERSUS" != nginx ] || static_copy "$WORK/site" "$WORK/static"
[ -z "$VERSUS" ] || BASELINE=$VERSUS

# (Re)starts both servers, this tree's edge first when $1 is 0, the other first otherwise. With two
# copies of one binary, the edge started second served 2 to 3 % more requests, at less CPU per
# request (2026-12-02, cause not found), whichever wrk started first: so half the rounds run
# in each order. Every round starts both afresh: whatever a process keeps for its lifetime
# (where its memory landed, the page cache's state for its binary) then varies between rounds
# instead of tilting all of one order's rounds the same way.
PID_EDGE="" PID_BASE="" STOP_BASE=""
start_both() {
  if [ -n "$PID_EDGE" ]; then
    stop_servers "$PID_EDGE" "$STOP_BASE"
  fi
  if (($1 == 0)); then
    start_edge "$BIN/switchyard-edge" "$SERVER_CPU" "$PORT_EDGE" && PID_EDGE=${pids[-1]}
    start_other
  else
    start_other
    start_edge "$BIN/switchyard-edge" "$SERVER_CPU" "$PORT_EDGE" && PID_EDGE=${pids[-1]}
  fi
}
# The baseline edge, or the VERSUS server on PORT_BASE; PID_BASE is the process doing the work
# (nginx's worker), STOP_BASE the one to stop (nginx's master).
start_other() {
  case "$VERSUS" in
    "") start_edge "$WORK/switchyard-edge-baseline" "$SERVER_CPU" "$PORT_BASE" && PID_BASE=${pids[-1]} ;;
    nginx) start_nginx "$SERVER_CPU" "$PORT_BASE" "$WORK/static" && PID_BASE=$NGINX_PID ;;
    bare-hyper)
      # The edge's headers, read from this tree's edge when it first runs (it starts first).
      [ -s "$WORK/edge-headers" ] || edge_headers "$PORT_EDGE" >"$WORK/edge-headers"
      start_bare_hyper "$SERVER_CPU" "$PORT_BASE" "$WORK/site/index.html" "$WORK/edge-headers" && PID_BASE=$BARE_PID
      ;;
  esac
  STOP_BASE=${pids[-1]}
}

COOKIE='Cookie: sy_id=0123456789abcdef0123456789abcdef; sy_v=shop.v1'
ROWS=("index.html, new visitor|/|" "index.html, returning visitor|/|$COOKIE"
  "app.js (150 KiB, br)|/assets/app.3f9a1c2b.js|Accept-Encoding: br, gzip" "404|/missing.png|"
  "_redirects rewrite|/product/123|")
[ "$VERSUS" != bare-hyper ] || ROWS=("${ROWS[0]}")

both() { # seconds path header n → "this baseline" requests completed, then each edge's CPU
  # ticks over the cell and the client CPU's busy ticks (all processes) over the cell. This
  # tree's wrk starts first when n is even; alternating that alone did not remove the difference
  # between two identical edges (the start order of the edges did, see `start_both`).
  local w=() p e0 b0 c0 ports=("$PORT_EDGE" "$PORT_BASE")
  (($4 % 2 == 0)) || ports=("$PORT_BASE" "$PORT_EDGE")
  e0=$(cpu_ticks "$PID_EDGE") b0=$(cpu_ticks "$PID_BASE") c0=$(cpu_busy_ticks "$CLIENT_CPU")
  for p in "${ports[@]}"; do
    taskset -c "$CLIENT_CPU" wrk -t1 "-c$CONNECTIONS" "-d$1" -H "Host: shop.bench.local" ${3:+-H "$3"} \
      "http://127.0.0.1:$p$2" >"$WORK/wrk.$p" &
    w+=($!)
  done
  wait "${w[@]}"
  echo "$(awk '/requests in/ {print $1}' "$WORK/wrk.$PORT_EDGE") $(awk '/requests in/ {print $1}' "$WORK/wrk.$PORT_BASE")" \
    "$(($(cpu_ticks "$PID_EDGE") - e0)) $(($(cpu_ticks "$PID_BASE") - b0)) $(($(cpu_busy_ticks "$CLIENT_CPU") - c0))"
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  start_both $(((round + 1) % 2)) # this tree's edge first in round 1 (bare hyper copies its headers)
  for row in "${ROWS[@]}"; do
    IFS='|' read -r name path header <<<"$row"
    # Both answer alike (status, encoding, bytes) before any timing.
    answers=()
    for p in "$PORT_EDGE" "$PORT_BASE"; do
      answers+=("$(curl -s -o /dev/null -w '%{http_code} %header{content-encoding} %{size_download}' \
        -H "Host: shop.bench.local" ${header:+-H "$header"} "http://127.0.0.1:$p$path")")
    done
    both 2s "$path" "$header" 0 >/dev/null # warm-up: connections, caches, the allocator
    # The wrk started first alternates every two rounds, the server started first every
    # round: four rounds cover the four combinations.
    read -r a b ea eb client <<<"$(both "$DURATION" "$path" "$header" $(((round - 1) / 2)))"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${answers[0]}" "${answers[1]}" "$a" "$b" "$ea" "$eb" "$client" \
      >>"$RESULTS"
  done
done

echo "# $(date -u +%Y-%m-%dT%H:%MZ) both servers on CPU $SERVER_CPU at once, two wrk -t1 -c$CONNECTIONS -d$DURATION on CPU $CLIENT_CPU, $ROUNDS rounds ($(nproc) CPUs)"
echo
if [ -n "$THIS_BIN" ]; then
  echo "this tree: $THIS_BIN; baseline: $BASELINE"
else
  echo "this tree: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- edge-node crates || echo ' + uncommitted changes'); baseline: $BASELINE"
fi
echo
python3 - "$RESULTS" "$(getconf CLK_TCK)" "${DURATION%s}" <<'PY'
import statistics, sys
tick_us, seconds = 1e6 / int(sys.argv[2]), float(sys.argv[3])
rows = {}
for line in open(sys.argv[1]):
    name, answer, base_answer, a, b, ea, eb, client = line.rstrip("\n").split("\t")
    rows.setdefault(name, (answer, base_answer, []))[2].append((int(a), int(b), int(ea), int(eb), int(client)))
print("| row | answer (this / baseline) | requests, this tree (median) | requests, baseline (median) "
      "| this ÷ baseline (median) | lowest–highest | edge CPU µs per request, this / baseline (median) "
      "| baseline's CPU ÷ this tree's (median) | client CPU busy |")
print("|---|---|---:|---:|---:|---|---:|---:|---:|")
for name, (answer, base_answer, cells) in rows.items():
    ratios = sorted(a / b for a, b, *_ in cells)
    cost_a = statistics.median(ea * tick_us / a for a, _, ea, _, _ in cells)
    cost_b = statistics.median(eb * tick_us / b for _, b, _, eb, _ in cells)
    cost_ratio = statistics.median((eb / b) / (ea / a) for a, b, ea, eb, _ in cells)
    busy = statistics.median(c * tick_us / 1e6 / seconds for *_, c in cells)
    print(f"| {name} | {answer} / {base_answer} | {statistics.median(a for a, *_ in cells):.0f} "
          f"| {statistics.median(b for _, b, *_ in cells):.0f} | {statistics.median(ratios):.3f} "
          f"| {ratios[0]:.3f}–{ratios[-1]:.3f} | {cost_a:.2f} / {cost_b:.2f} | {cost_ratio:.3f} | {busy:.0%} |")
PY
