#!/usr/bin/env bash
# Instructions per request of the edge, this tree's against another build, counted by
# callgrind: repeatable whatever else the machine is doing (a shared 2-core machine makes
# requests/s too noisy to see a few percent). For each edge and each row, the counters are
# zeroed once the edge is warm, `wrk` runs, and the dump's total is divided by the requests
# wrk completed: start-up, sync and the memory cache's warm-up are not counted.
#
#   BASELINE=9e2eded bash benches/instructions.sh          # builds that commit's edge first
#   BASELINE_BIN=/path/to/switchyard-edge bash benches/instructions.sh
#
# Rows: `/` (2 KiB index.html) from a new visitor (no cookies: the edge mints `sy_id`), `/`
# from a returning visitor (`sy_id` and `sy_v` cookies), a fingerprinted asset with cookies,
# and as wrk sends them in http.sh and ab.sh: the JS file in brotli, a 404 and a `_redirects`
# rewrite. Last, bare
# hyper (`benches/src/bare_hyper.rs`) answering `/` with the bytes this tree's edge sends a new
# visitor: the HTTP stack's own share, which the edge's row pays too.
#
# With CACHE_SIM=1, callgrind also simulates the caches and branch predictors (this machine's
# geometry: 32 KiB I1 and D1, 64-byte lines) and each row adds, per request: I1 misses (lines
# of code the request fetched that the instruction cache no longer held: a measure of the code
# footprint a request walks; user space only, and on hardware the kernel's work between
# requests evicts more), D1 misses, and mispredicted branches. Instructions come out the same;
# the run takes about twice as long. A smaller simulated I1 keeps nothing from one request to
# the next, as the kernel's work between them does on hardware: then I1 misses count the lines
# of code a request walks (an upper bound: a line fetched twice within one request counts
# twice).
#   CACHE_SIM=1 bash benches/instructions.sh
#   CACHE_SIM=--I1=8192,8,64 bash benches/instructions.sh
#
# KEEP=<dir> copies each row's callgrind dump there (`<edge>--<row>.callgrind`, names made
# safe), to read per function with `callgrind_annotate --inclusive=no <file>`.
#
# The binaries are built with the release profile into `${CARGO_TARGET_DIR:-target}`, so
# cargo's profile variables try another build of both, e.g. link-time optimisation:
#   CARGO_TARGET_DIR=/tmp/lto CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
#     bash benches/instructions.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASELINE=${BASELINE:-}
BASELINE_BIN=${BASELINE_BIN:-}
DURATION=${DURATION:-5s}
CACHE_SIM=${CACHE_SIM:-}
KEEP=${KEEP:-}
[ -z "$KEEP" ] || { mkdir -p "$KEEP" && KEEP=$(cd "$KEEP" && pwd); }
CALLGRIND=(valgrind --tool=callgrind)
SIM="" # set when the caches are simulated
case "$CACHE_SIM" in
  "" | 0) ;;
  1) SIM=1 CALLGRIND+=(--cache-sim=yes --branch-sim=yes) ;;
  # Anything else: valgrind's own cache options, e.g. CACHE_SIM=--I1=8192,8,64.
  # shellcheck disable=SC2206 # split into options on purpose
  *) SIM=1 CALLGRIND+=(--cache-sim=yes --branch-sim=yes $CACHE_SIM) ;;
esac
command -v valgrind >/dev/null && command -v wrk >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind wrk >/dev/null
}
cd "$ROOT"
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_setup # WORK, pids, cleanup on exit, the baseline edge, release binaries in BIN
[ -z "$BASELINE" ] || BASELINE_BIN="$WORK/switchyard-edge-baseline"

bench_site "$WORK/site"
control_plane_with 1 "$WORK/site"

COOKIE='Cookie: sy_id=0123456789abcdef0123456789abcdef; sy_v=shop.v1'
ROWS=("/ new visitor|/|" "/ returning visitor|/|$COOKIE" "asset, returning visitor|/assets/app.3f9a1c2b.js|$COOKIE"
  "JS as http.sh asks for it (br)|/assets/app.3f9a1c2b.js|Accept-Encoding: br, gzip"
  "404 (/missing.png)|/missing.png|" "rewrite, new visitor|/product/123|")

# One table row: warms the server under callgrind up (memory cache, allocator), zeroes its
# counters, runs wrk, dumps, and divides the instructions by the requests wrk completed.
count_row() { # label name pid port path [header]
  local label=$1 name=$2 pid=$3 port=$4 path=$5 header=${6:-}
  wrk -t1 -c8 -d2s -H "Host: shop.bench.local" ${header:+-H "$header"} "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -z "$pid" >/dev/null
  wrk -t1 -c8 "-d$DURATION" -H "Host: shop.bench.local" ${header:+-H "$header"} "http://127.0.0.1:$port$path" >"$WORK/wrk.out"
  rm -f "$WORK"/cg."$port".*.[0-9]*
  callgrind_control -d "$pid" >/dev/null
  local requests dump
  requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
  dump=$(ls -t "$WORK"/cg."$port".*.[0-9]* | head -1)
  [ -z "$KEEP" ] || cp "$dump" "$KEEP/$(tr -c 'A-Za-z0-9.\n-' _ <<<"$name--$label").callgrind"
  # The dump's `events:` line names the columns of its `summary:` line (Ir first).
  awk -v label="$label" -v name="$name" -v n="$requests" -v sim="$SIM" '
    /^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
    /^(summary|totals):/ && !done {
      done = 1
      # %.0f, not %d: mawk caps %d at 2^31 - 1, and a long run passes that total.
      row = sprintf("| %s | %s | %d | %.0f | %d |", label, name, n, $col["Ir"], $col["Ir"] / n)
      if (sim) row = row sprintf(" %.0f | %.0f | %.0f |", $col["I1mr"] / n,
        ($col["D1mr"] + $col["D1mw"]) / n, ($col["Bcm"] + $col["Bim"]) / n)
      print row
    }' "$dump"
}

measure() { # name binary port → one table row per ROWS entry
  local name=$1 bin=$2 port=$3
  start_edge "$bin" 0 "$port" "${CALLGRIND[@]}" --callgrind-out-file="$WORK/cg.$port.%p"
  local pid=${pids[-1]}
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label path header <<<"$row"
    count_row "$label" "$name" "$pid" "$port" "$path" "$header"
  done
  # The headers this edge sends a new visitor for `/`, for bare hyper's row.
  [ -s "$WORK/headers" ] || edge_headers "$port" >"$WORK/headers"
  stop_servers "$pid"
}

measure_bare() { # port → the `/` row of bare hyper sending the edge's bytes (the floor)
  local port=$1 headers=()
  mapfile -t headers <"$WORK/headers"
  "${CALLGRIND[@]}" --callgrind-out-file="$WORK/cg.$port.%p" \
    "$BIN/bare-hyper" "127.0.0.1:$port" "$WORK/site/index.html" "${headers[@]}" >/dev/null 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/" x
  count_row "/ new visitor" "bare hyper, the same bytes" "$pid" "$port" /
  stop_servers "$pid"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) callgrind, wrk -t1 -c8 -d$DURATION after a 2 s warm-up"
echo
if [ -z "$SIM" ]; then
  echo "| row | edge | requests | instructions | per request |"
  echo "|---|---|---:|---:|---:|"
else
  echo "| row | edge | requests | instructions | per request | I1 misses per request | D1 misses per request | mispredicted branches per request |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
fi
measure "this tree ($(git -C "$ROOT" rev-parse --short HEAD))" "$BIN/switchyard-edge" 18090
[ -z "$BASELINE_BIN" ] || measure "baseline $BASELINE" "$BASELINE_BIN" 18091
measure_bare 18092
