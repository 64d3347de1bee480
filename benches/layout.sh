#!/usr/bin/env bash
# The edge linked with the functions every request runs laid out together, beside the same
# edge linked as usual: how much of the edge's cost is where its hot code sits in the binary.
# (An experiment: the release build does not do this; see README.md, "Code layout".)
#
#   bash benches/layout.sh                      # writes target/layout/ (OUT=<dir> to change)
#   THIS_BIN=target/layout/switchyard-edge.ordered BASELINE_BIN=target/layout/switchyard-edge.plain \
#     bash benches/ab.sh                        # then both, side by side
#
# 1. Links the edge alone (`cargo rustc --release -p switchyard-edge --bin switchyard-edge`)
#    as usual: `switchyard-edge.plain`.
# 2. Runs it under callgrind, following a control plane with the bench bundle, while wrk sends
#    the rows of `instructions.sh` one after the other (a new visitor's and a returning
#    visitor's `/`, the brotli asset, a 404, a rewrite), and lists every function of the
#    binary that ran at least one instruction per request on average, hottest first:
#    `hot-symbols.txt` (mangled names: they hold hashes of the toolchain, `Cargo.lock` and
#    the features a build unifies, so the list fits this build only).
# 3. Links it again with that list as lld's `--symbol-ordering-file`: `switchyard-edge.ordered`.
# 4. Runs the ordered one the same way, and prints for both how many 4 KiB pages and 64-byte
#    lines of the binary's code the requests ran (each counted if its instructions ran at
#    least half as many times as there were requests).
set -euo pipefail
# Physical paths (`pwd -P`): valgrind names the binary by its real path, which the profile is
# filtered by.
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
OUT=${OUT:-$ROOT/target/layout}
DURATION=${DURATION:-2s}
command -v valgrind >/dev/null && command -v wrk >/dev/null || {
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends valgrind wrk >/dev/null
}
cd "$ROOT"
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
bench_setup # WORK, pids, cleanup on exit, the control plane and CLI in BIN
bench_site "$WORK/site"
control_plane_with 1 "$WORK/site"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)

COOKIE='Cookie: sy_id=0123456789abcdef0123456789abcdef; sy_v=shop.v1'
BR='Accept-Encoding: br, gzip'
ROWS=("/|" "/|$COOKIE" "/assets/app.3f9a1c2b.js|$COOKIE|$BR" "/missing.png|" "/product/123|") # path|header|header

# Links the edge alone, with rustc arguments $2..., and copies it to $1. (The ordering file
# is an lld option: rustc 1.95 links x86_64 Linux binaries with its own lld through `cc`.)
link_edge() {
  local to=$1
  shift
  # The list's contents are not in cargo's fingerprint, only its path: link again regardless.
  touch "$ROOT/edge-node/src/main.rs"
  cargo rustc --release --locked -p switchyard-edge --bin switchyard-edge -- "$@"
  cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/switchyard-edge" "$to"
}

# Runs edge binary $1 under callgrind through the rows; writes the dump to $2 and the requests
# wrk completed to $2.requests.
profile() {
  local bin=$1 dump=$2 port=18095 requests=0 path header header2
  start_edge "$bin" 0 "$port" valgrind --tool=callgrind --dump-instr=yes --demangle=no \
    --callgrind-out-file="$WORK/cg.%p"
  local pid=${pids[-1]}
  for row in "${ROWS[@]}"; do # every row once before counting: memory cache, allocator
    IFS='|' read -r path header header2 <<<"$row"
    wrk -t1 -c8 -d1s -H "Host: shop.bench.local" ${header:+-H "$header"} ${header2:+-H "$header2"} \
      "http://127.0.0.1:$port$path" >/dev/null
  done
  callgrind_control -z "$pid" >/dev/null
  for row in "${ROWS[@]}"; do
    IFS='|' read -r path header header2 <<<"$row"
    wrk -t1 -c8 "-d$DURATION" -H "Host: shop.bench.local" ${header:+-H "$header"} ${header2:+-H "$header2"} \
      "http://127.0.0.1:$port$path" >"$WORK/wrk.out"
    requests=$((requests + $(awk '/requests in/ {print $1}' "$WORK/wrk.out")))
  done
  rm -f "$WORK"/cg.*.[0-9]*
  callgrind_control -d "$pid" >/dev/null
  cp "$(ls -t "$WORK"/cg.*.[0-9]* | head -1)" "$dump"
  echo "$requests" >"$dump.requests"
  stop_servers "$pid"
}

# Reads dump $1 of binary $2: with `functions`, prints the hot functions, hottest first; with
# `footprint`, one line of the pages and lines of code the requests ran.
read_dump() {
  python3 - "$1" "$(cat "$1.requests")" "$2" "$3" <<'PY'
import collections, re, sys
# Callgrind's format: `ob=`/`fn=(id) name` define a compressed name, `(id)` alone reuses it;
# a cost line is its positions (here the instruction's address, then the source line: `+n`,
# `-n` and `*` are relative to the previous line's) and then Ir; the line after `calls=` is
# a call's inclusive cost, at the call's address.
dump, requests, binary, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
objects, names = {}, {}
cost, ran = collections.Counter(), collections.Counter()
in_binary, fn, at, after_calls = False, None, 0, False
for line in open(dump):
    if line.startswith(("ob=", "cob=")):
        m = re.match(r"c?ob=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m.group(2):
            objects[m.group(1)] = m.group(2)
        if line.startswith("ob="):
            in_binary = objects[m.group(1)] == binary
    elif line.startswith(("fn=", "cfn=")):
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m.group(2):
            # A recursive call's cost is under `name'2` (`--separate-recs`): the same symbol.
            names[m.group(1)] = re.sub(r"'\d+$", "", m.group(2))
        if line.startswith("fn="):
            fn = names[m.group(1)]
    elif line.startswith("calls="):
        after_calls = True
    elif line[:1].isdigit() or line[:1] in "+-*":
        if after_calls:  # at the call's address, which it does not move
            after_calls = False
            continue
        fields = line.split()
        p = fields[0]
        at = at if p == "*" else at + int(p[1:], 0) if p[0] == "+" else at - int(p[1:], 0) if p[0] == "-" else int(p, 0)
        if in_binary and len(fields) > 2:
            cost[fn] += int(fields[2])
            ran[at] += int(fields[2])
if not cost:
    sys.exit(f"layout.sh: no instructions of {binary} in {dump}")
if what == "functions":
    hot = [name for name, ir in cost.most_common() if ir >= requests]
    print(f"{len(hot)} functions ran at least one instruction per request ({requests} requests)", file=sys.stderr)
    print("\n".join(hot))
else:
    hot = [a for a, n in ran.items() if n >= requests / 2]
    pages, lines = {a >> 12 for a in hot}, {a >> 6 for a in hot}
    print(f"{len(pages)} pages of 4 KiB, {len(lines)} lines of 64 bytes, {len(hot)} instructions")
PY
}

link_edge "$OUT/switchyard-edge.plain"
profile "$OUT/switchyard-edge.plain" "$WORK/plain.cg"
read_dump "$WORK/plain.cg" "$OUT/switchyard-edge.plain" functions >"$OUT/hot-symbols.txt"
link_edge "$OUT/switchyard-edge.ordered" -C "link-arg=-Wl,--symbol-ordering-file=$OUT/hot-symbols.txt"
profile "$OUT/switchyard-edge.ordered" "$WORK/ordered.cg"
# Linked as usual again: target/release/switchyard-edge is not left the ordered one.
link_edge "$WORK/switchyard-edge.relinked"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) code the requests ran (callgrind, wrk -t1 -c8 -d$DURATION per row)"
echo "as linked:       $(read_dump "$WORK/plain.cg" "$OUT/switchyard-edge.plain" footprint)"
echo "hot code first:  $(read_dump "$WORK/ordered.cg" "$OUT/switchyard-edge.ordered" footprint)"
echo "side by side:    THIS_BIN=$OUT/switchyard-edge.ordered BASELINE_BIN=$OUT/switchyard-edge.plain bash benches/ab.sh"
