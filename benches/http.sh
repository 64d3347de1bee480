#!/usr/bin/env bash
# Edge throughput, side by side in one run: Switchyard's edge, nginx, static-web-server and a
# bare hyper server (fixed bytes from memory: the floor cost of the HTTP stack), all serving
# the same bundle. Each server is pinned to one core and wrk to another.
#
#   bash benches/http.sh            # DURATION=10s CONNECTIONS=64 SERVER_CPU=0 CLIENT_CPU=1
#   BASELINE=9e2eded bash benches/http.sh   # also the edge built from that commit, same run
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

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || missing+=(libnginx-mod-http-brotli-static)
command -v brotli >/dev/null || missing+=(brotli)
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v static-web-server >/dev/null || cargo install --locked static-web-server
cd "$ROOT"
WORK=$(mktemp -d)
chmod 755 "$WORK" # nginx workers run unprivileged when started as root
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "$BASELINE" ] || git -C "$ROOT" worktree remove --force "$WORK/baseline-src" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# With BASELINE=<commit>, that commit's edge is built first (same target dir, so only the
# workspace's own crates compile again) and kept aside, to run beside this tree's edge.
if [ -n "$BASELINE" ]; then
  git -C "$ROOT" worktree add --detach -q "$WORK/baseline-src" "$BASELINE"
  (cd "$WORK/baseline-src" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --locked -p switchyard-edge)
  cp "$ROOT/target/release/switchyard-edge" "$WORK/switchyard-edge-baseline"
  touch "$ROOT/edge-node/src/main.rs" # relink this tree's edge over the baseline's
fi
cargo build --release --locked -p switchyard-cli -p switchyard-control -p switchyard-edge -p switchyard-benches
BIN="$ROOT/target/release"
if [ -n "$BASELINE" ] && cmp -s "$BIN/switchyard-edge" "$WORK/switchyard-edge-baseline"; then
  echo "the baseline edge is byte-identical to this tree's: nothing to compare" >&2
fi

# --- The bundle: a 2 KiB index.html, a 150 KiB fingerprinted JS file, a rewrite rule. ---
SITE="$WORK/site"
mkdir -p "$SITE/assets"
python3 - "$SITE" <<'PY'
import sys, random
site = sys.argv[1]
random.seed(7)
head = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bench Shop</title>' \
       '<link rel="stylesheet" href="/assets/app.css"></head><body><h1>Bench Shop</h1><ul>'
items, n = [], 0
while len(head) + sum(map(len, items)) < 2048 - 60:
    items.append(f'<li class="p">Product {n} &mdash; €{random.randint(5, 99)}.90</li>')
    n += 1
page = (head + "".join(items) + '</ul><script type="module" src="/assets/app.3f9a1c2b.js"></script></body></html>')
open(f"{site}/index.html", "w").write(page.ljust(2048)[:2048])
words = ["cart", "item", "price", "total", "render", "state", "product", "checkout", "user", "order"]
js = []
while sum(map(len, js)) < 150 * 1024:
    a, b = random.sample(words, 2)
    js.append(f"export function {a}_{b}_{len(js)}(x) {{ return x.{a} * {random.randint(1, 999)} + (x.{b} ?? {len(js)}); }}\n")
open(f"{site}/assets/app.3f9a1c2b.js", "w").write("".join(js)[:150 * 1024])
open(f"{site}/_redirects", "w").write("/product/* /index.html 200\n")
PY
# nginx and static-web-server get the same files with .br/.gz next to them (their way of
# serving precompressed files); the edge gets the bundle and precompresses at deploy.
STATIC="$WORK/static"
cp -r "$SITE" "$STATIC"
rm "$STATIC/_redirects"
gzip -9 -k "$STATIC/assets/app.3f9a1c2b.js" "$STATIC/index.html"
brotli -q 11 -k "$STATIC/assets/app.3f9a1c2b.js" "$STATIC/index.html"

wait_http() { # url host
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null -H "Host: $2" "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2; exit 1
}

# --- Switchyard: control plane on the client core (idle during the runs), edge on the server core.
export SWITCHYARD_ADMIN_TOKEN=sya_bench_0123456789abcdef
taskset -c "$CLIENT_CPU" "$BIN/switchyard-control" --api-addr 127.0.0.1:0 --data "$WORK/cp" --base-domain bench.local \
  >"$WORK/cp.out" 2>"$WORK/cp.log" & pids+=($!)
for _ in $(seq 1 200); do grep -q "listening on" "$WORK/cp.out" 2>/dev/null && break; sleep 0.05; done
API=$(sed -n 's/.*listening on //p' "$WORK/cp.out")
cli() { SWITCHYARD_API="$API" SWITCHYARD_TOKEN="$SWITCHYARD_ADMIN_TOKEN" "$BIN/switchyard" "$@"; }
EDGE_TOKEN=$(cli edge-token create --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
cli tenants create bench >/dev/null
cli apps create shop --tenant bench >/dev/null
cli deploy "$SITE" --app shop --promote >/dev/null
taskset -c "$SERVER_CPU" "$BIN/switchyard-edge" --control-plane "$API" --token "$EDGE_TOKEN" \
  --http-addr "127.0.0.1:$PORT_EDGE" --cache-dir "$WORK/edge" --base-domain bench.local 2>"$WORK/edge.log" >/dev/null & pids+=($!)
wait_http "http://127.0.0.1:$PORT_EDGE/" shop.bench.local
if [ -n "$BASELINE" ]; then
  taskset -c "$SERVER_CPU" "$WORK/switchyard-edge-baseline" --control-plane "$API" --token "$EDGE_TOKEN" \
    --http-addr "127.0.0.1:$PORT_BASE" --cache-dir "$WORK/edge-baseline" --base-domain bench.local \
    2>"$WORK/edge-baseline.log" >/dev/null & pids+=($!)
  wait_http "http://127.0.0.1:$PORT_BASE/" shop.bench.local
fi

# --- nginx: one worker, sendfile, open_file_cache, no access log, precompressed files.
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;
worker_processes 1;
error_log $WORK/nginx/logs/error.log error;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  gzip_static on;
  brotli_static on;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX;
    root $STATIC;
    location / { try_files \$uri \$uri/ =404; }
    location /product/ { try_files /index.html =404; }
  }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' & pids+=($!)
wait_http "http://127.0.0.1:$PORT_NGINX/" x

# --- static-web-server: one worker thread (pinned to one core), precompressed files.
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
taskset -c "$SERVER_CPU" static-web-server --config-file "$WORK/sws.toml" >/dev/null 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$PORT_SWS/" x

# --- bare hyper: index.html's bytes from memory for any request, twice: with exactly the
# headers the edge sends for it (the same response bytes: the floor cost of the HTTP stack for
# this response), and with a content-type alone (the floor of any response).
EDGE_HEADERS=()
while IFS= read -r line; do
  line=${line%$'\r'}
  case "${line,,}" in http/* | date:* | content-length:* | "") continue ;; esac
  EDGE_HEADERS+=("$line")
done < <(curl -s -D - -o /dev/null -H "Host: shop.bench.local" "http://127.0.0.1:$PORT_EDGE/")
taskset -c "$SERVER_CPU" "$BIN/bare-hyper" "127.0.0.1:$PORT_HYPER" "$SITE/index.html" "${EDGE_HEADERS[@]}" >/dev/null & pids+=($!)
wait_http "http://127.0.0.1:$PORT_HYPER/" x
taskset -c "$SERVER_CPU" "$BIN/bare-hyper" "127.0.0.1:$PORT_HYPER2" "$SITE/index.html" >/dev/null & pids+=($!)
wait_http "http://127.0.0.1:$PORT_HYPER2/" x

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

bench() { # port host path header → "rps p50 p99"
  local args=(-t1 "-c$CONNECTIONS" "-d$DURATION" --latency -H "Host: $2")
  [ -n "$4" ] && args+=(-H "$4")
  # A short warm-up first (connections, caches, the allocator), then the measured run.
  taskset -c "$CLIENT_CPU" wrk -t1 "-c$CONNECTIONS" -d2s -H "Host: $2" ${4:+-H "$4"} "http://127.0.0.1:$1$3" >/dev/null
  taskset -c "$CLIENT_CPU" wrk "${args[@]}" "http://127.0.0.1:$1$3" >"$WORK/wrk.out"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
  if grep -q "Non-2xx\|Socket errors" "$WORK/wrk.out"; then
    grep "Non-2xx\|Socket errors" "$WORK/wrk.out" | sed 's/^ */  note: /' >&2
  fi
  echo "$rps $p50 $p99"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) wrk -t1 -c$CONNECTIONS -d$DURATION, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU ($(nproc) CPUs, $(uname -m))"
echo
echo "| row | server | answer (status, encoding, bytes) | requests/s | p50 | p99 | edge ÷ this |"
echo "|---|---|---|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  IFS='|' read -r name path header <<<"$row"
  edge_rps=""
  for server in "${SERVERS[@]}"; do
    IFS='|' read -r sname port host <<<"$server"
    if [[ "$sname" == bare* ]] && [ "$path" != "/" ]; then continue; fi
    answer=$(check "$port" "$host" "$path" "$header")
    read -r rps p50 p99 <<<"$(bench "$port" "$host" "$path" "$header")"
    [ -z "$edge_rps" ] && edge_rps=$rps
    ratio=$(python3 -c "print(f'{$edge_rps / $rps:.2f}')")
    echo "| $name | $sname | $answer | $rps | $p50 | $p99 | $ratio |"
  done
done
