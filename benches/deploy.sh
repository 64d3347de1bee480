#!/usr/bin/env bash
# Deploy times, side by side in one run: the incremental CLI deploy (hash locally, upload only
# missing blobs, finalize) against the same site sent as one archive
# (`tar czf - | curl --data-binary @-` to POST /v1/apps/{app}/versions), on a generated
# 5,000-file, ~100 MB site. The control plane is pinned to one core, the CLI/curl to another.
#
#   bash benches/deploy.sh          # FILES=5000 SERVER_CPU=1 CLIENT_CPU=0 PORT=18701 BIN=target/release
#
# Prints a Markdown table for benches/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILES=${FILES:-5000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
PORT=${PORT:-18701}
API=http://127.0.0.1:$PORT
ADMIN=sya_bench_deploy_0123456789abcdef0123456789abcdef
cd "$ROOT"
BIN=${BIN:-$ROOT/target/release}
[ -x "$BIN/switchyard" ] && [ -x "$BIN/switchyard-control" ] \
  || cargo build --release -p switchyard-control -p switchyard-cli

WORK=$(mktemp -d)
CP_PID=""
cleanup() {
  [ -n "$CP_PID" ] && kill "$CP_PID" 2>/dev/null && wait "$CP_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The site: 60 % incompressible media (.png/.woff2, ~28 KiB), 40 % text (.js/.css/.html,
# ~14 KiB, word salad that compresses about like minified code), in 50 directories.
python3 - "$WORK/site" "$FILES" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = ["const", "function", "return", "this", "props", "state", "export", "import", "default",
         "cart", "item", "price", "total", "checkout", "render", "useEffect", "null", "=>", "{", "}",
         "await", "fetch", "json", "map", "filter", "class", "div", "span", "button", "onClick"]
for i in range(n):
    d = os.path.join(root, f"d{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    if i % 5 < 3:
        ext = ".png" if i % 2 else ".woff2"
        data = os.urandom(rnd.randint(20_000, 36_000))
    else:
        ext = [".js", ".css", ".html"][i % 3]
        count = rnd.randint(1_200, 2_800)
        data = (" ".join(rnd.choice(words) + str(rnd.randint(0, 99)) for _ in range(count)) + "\n").encode()
    with open(os.path.join(d, f"f{i:05d}{ext}"), "wb") as f:
        f.write(data)
with open(os.path.join(root, "index.html"), "w") as f:
    f.write("<!doctype html><h1>bench</h1>\n")
EOF
SITE_FILES=$(find "$WORK/site" -type f | wc -l)
SITE_BYTES=$(du -sb "$WORK/site" | cut -f1)

start_cp() { # $1: data dir
  SWITCHYARD_ADMIN_TOKEN=$ADMIN taskset -c "$SERVER_CPU" "$BIN/switchyard-control" \
    --api-addr "127.0.0.1:$PORT" --data "$1" --base-domain bench.test >"$1.log" 2>&1 &
  CP_PID=$!
  for _ in $(seq 100); do curl -sf "$API/v1/health" >/dev/null && return; sleep 0.1; done
  echo "control plane did not start" >&2; cat "$1.log" >&2; exit 1
}
stop_cp() { kill "$CP_PID"; wait "$CP_PID" 2>/dev/null || true; CP_PID=""; }
cli() { SWITCHYARD_API=$API SWITCHYARD_TOKEN=$TENANT taskset -c "$CLIENT_CPU" "$BIN/switchyard" "$@"; }
setup_app() {
  TENANT=$(SWITCHYARD_API=$API SWITCHYARD_TOKEN=$ADMIN "$BIN/switchyard" tenants create bench --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  cli apps create shop >/dev/null
}
now() { date +%s.%N; }
row() { # name seconds files bytes
  python3 -c 'import sys; n,s,f,b=sys.argv[1],float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); print(f"| {n} | {s:.2f} | {f:,} | {b/1e6:.1f} | {f/s:,.0f} | {b/1e6/s:.1f} |")' "$@"
}

echo "site: $SITE_FILES files, $((SITE_BYTES / 1000000)) MB; server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
echo
echo "| deploy | seconds | files sent | MB sent | files/s | MB/s |"
echo "|---|---:|---:|---:|---:|---:|"

# 1. One archive, fresh control plane.
start_cp "$WORK/cp-archive"
setup_app
t0=$(now)
taskset -c "$CLIENT_CPU" tar czf - -C "$WORK/site" . \
  | taskset -c "$CLIENT_CPU" curl -sf -o "$WORK/archive.json" --data-binary @- \
      -H "authorization: Bearer $TENANT" -H "content-type: application/octet-stream" \
      "$API/v1/apps/shop/versions"
t1=$(now)
row "archive (\`tar czf - \| curl --data-binary @-\`)" "$(python3 -c "print($t1 - $t0)")" "$SITE_FILES" "$SITE_BYTES"
stop_cp

# 2. Incremental, fresh control plane: first deploy, one file changed, nothing changed.
start_cp "$WORK/cp-incremental"
setup_app
deploy() { # name
  local t0 t1 out
  t0=$(now)
  out=$(cli deploy "$WORK/site" --app shop --json 2>/dev/null)
  t1=$(now)
  local files bytes
  files=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uploaded_files"])')
  bytes=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uploaded_bytes"])')
  row "$1" "$(python3 -c "print($t1 - $t0)")" "$SITE_FILES" "$SITE_BYTES"
  echo "$1: uploaded $files files, $bytes bytes" >>"$WORK/notes"
}
deploy "incremental, first deploy"
echo "// changed $(date +%s%N)" >>"$WORK/site/d08/f00008.html"
deploy "incremental, one file changed"
deploy "incremental, nothing changed"
stop_cp
echo
echo "(files/s and MB/s are over the whole site: what the merchant gets deployed per second)"
cat "$WORK/notes"
