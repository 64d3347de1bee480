# Shared by the benchmark scripts (sourced, not run): the work directory and its cleanup,
# the release build with the baseline edge of BASELINE / BASELINE_BIN, the bench bundle, a
# control plane with it deployed, and edges following it. Expects ROOT to be set.

# Makes WORK (readable by nginx's unprivileged workers) and `pids` (killed on exit, with the
# baseline's worktree and WORK), builds the baseline edge if asked, then this tree's release
# binaries, and copies them into BIN.
#
# Our binaries (the edge, bare hyper, the control plane, the CLI) run from copies made here, as
# the baseline edge always did, so that each one's text sits in the page cache the same way
# (freshly written). Run from `target/`, the edge once read 0.978 against a copy of itself
# (`ab.sh`'s `/` row, 10 rounds), then 0.997 after the page cache was dropped and 1.003 freshly
# linked (2026-12-02, README.md): the state can matter, and it cannot be seen.
bench_setup() {
  WORK=$(mktemp -d)
  chmod 755 "$WORK"
  pids=()
  trap bench_cleanup EXIT
  baseline_edge
  cargo build --release --locked -p switchyard-cli -p switchyard-control -p switchyard-edge -p switchyard-benches
  BIN="$WORK/bin"
  mkdir "$BIN"
  local built="${CARGO_TARGET_DIR:-$ROOT/target}/release"
  cp "$built"/{switchyard,switchyard-control,switchyard-edge,bare-hyper} "$BIN/"
  if [ -n "${BASELINE:-}" ] && cmp -s "$BIN/switchyard-edge" "$WORK/switchyard-edge-baseline"; then
    echo "the baseline edge is byte-identical to this tree's: nothing to compare" >&2
  fi
}

# Installs with apt-get those of the Debian packages named that are missing, each known by its
# command (nginx-light by `nginx`, linux-perf by `perf`, the brotli_static module by its file;
# any other package by a command of its own name).
install_missing() {
  local p missing=() sudo=""
  for p in "$@"; do
    case "$p" in
      nginx-light) command -v nginx >/dev/null ;;
      linux-perf) command -v perf >/dev/null ;;
      libnginx-mod-http-brotli-static) [ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] ;;
      *) command -v "$p" >/dev/null ;;
    esac || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# nginx as http.sh, ab.sh and profile.sh run it, with `brotli` for its precompressed copies.
NGINX_PACKAGES=(nginx-light libnginx-mod-http-brotli-static brotli)

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ ! -d "$WORK/baseline-src" ] || git -C "$ROOT" worktree remove --force "$WORK/baseline-src" 2>/dev/null || true
  rm -rf "$WORK"
}

# Stops the servers whose pids are given and waits for them; a server that died already ends
# the run (under `set -e`). They leave `pids`, so that the exit does not kill the numbers
# again (they may belong to other processes by then).
stop_servers() {
  kill "$@"
  wait "$@" 2>/dev/null || true
  local p kept=()
  for p in "${pids[@]}"; do [[ " $* " == *" $p "* ]] || kept+=("$p"); done
  pids=("${kept[@]}")
}

cpu_ticks() { # pid → its user + system clock ticks so far (/proc/PID/stat)
  awk '{print $14 + $15}' "/proc/$1/stat"
}

cpu_busy_ticks() { # cpu → that CPU's non-idle clock ticks so far, every process (/proc/stat)
  awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

# Writes the bench bundle to $1: a 2 KiB index.html, a 150 KiB fingerprinted JS file and one
# `_redirects` rewrite (`/product/* /index.html 200`). Deterministic (seeded).
bench_site() {
  mkdir -p "$1/assets"
  python3 - "$1" <<'PY'
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
}

wait_http() { # url host (up to a minute: an edge under valgrind starts slowly)
  for _ in $(seq 1 1200); do
    curl -fs -o /dev/null -H "Host: $2" "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2
  exit 1
}

# Builds BASELINE's edge (a commit) into $WORK/switchyard-edge-baseline, or copies
# BASELINE_BIN there; sets BASELINE to a label. Nothing without either.
baseline_edge() {
  if [ -n "${BASELINE_BIN:-}" ]; then
    cp "$BASELINE_BIN" "$WORK/switchyard-edge-baseline"
    BASELINE=${BASELINE:-$BASELINE_BIN}
  elif [ -n "${BASELINE:-}" ]; then
    # Same target dir, so only the workspace's own crates compile again.
    git -C "$ROOT" worktree add --detach -q "$WORK/baseline-src" "$BASELINE"
    (cd "$WORK/baseline-src" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --locked -p switchyard-edge)
    cp "$ROOT/target/release/switchyard-edge" "$WORK/switchyard-edge-baseline"
    touch "$ROOT/edge-node/src/main.rs" # relink this tree's edge over the baseline's
  fi
}

# Starts a control plane (on CPU $1), deploys the bundle at $2 as app `shop` and promotes it;
# sets API and EDGE_TOKEN. Hosts: `shop.bench.local`.
control_plane_with() {
  export SWITCHYARD_ADMIN_TOKEN=sya_bench_0123456789abcdef
  taskset -c "$1" "$BIN/switchyard-control" --api-addr 127.0.0.1:0 --data "$WORK/cp" --base-domain bench.local \
    >"$WORK/cp.out" 2>"$WORK/cp.log" &
  pids+=($!)
  for _ in $(seq 1 200); do grep -q "listening on" "$WORK/cp.out" 2>/dev/null && break; sleep 0.05; done
  API=$(sed -n 's/.*listening on //p' "$WORK/cp.out")
  EDGE_TOKEN=$(bench_cli edge-token create --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  bench_cli tenants create bench >/dev/null
  bench_cli apps create shop --tenant bench >/dev/null
  bench_cli deploy "$2" --app shop --promote >/dev/null
}

bench_cli() { SWITCHYARD_API="$API" SWITCHYARD_TOKEN="$SWITCHYARD_ADMIN_TOKEN" "$BIN/switchyard" "$@"; }

# Starts the edge binary $1 on CPU $2, port $3, following the control plane; waits for it.
# Any further arguments go before the binary (e.g. a profiler).
start_edge() {
  local bin=$1 cpu=$2 port=$3
  shift 3
  taskset -c "$cpu" "$@" "$bin" --control-plane "$API" --token "$EDGE_TOKEN" --http-addr "127.0.0.1:$port" \
    --cache-dir "$WORK/edge.$port" --base-domain bench.local >/dev/null 2>"$WORK/edge.$port.log" &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/" shop.bench.local
}

# Copies the bundle at $1 to $2 the way nginx and static-web-server serve it: without
# `_redirects` (each gets the rewrite in its own config), with `.gz` and `.br` files next to
# the two the edge precompresses at deploy.
static_copy() {
  cp -r "$1" "$2"
  rm "$2/_redirects"
  gzip -9 -k "$2/assets/app.3f9a1c2b.js" "$2/index.html"
  brotli -q 11 -k "$2/assets/app.3f9a1c2b.js" "$2/index.html"
}

# Starts nginx on CPU $1, port $2, serving $3 (a `static_copy`): one worker, sendfile,
# open_file_cache, no access log, precompressed files, the bundle's rewrite. Sets NGINX_PID
# to the worker's pid (the process doing the work); waits for it.
start_nginx() {
  local cpu=$1 port=$2 root=$3 dir="$WORK/nginx.$2"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;
worker_processes 1;
error_log $dir/logs/error.log error;
pid $dir/nginx.pid;
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
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port;
    root $root;
    location / { try_files \$uri \$uri/ =404; }
    location /product/ { try_files /index.html =404; }
  }
}
CONF
  taskset -c "$cpu" nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/" x
  NGINX_PID=$(pgrep -P "${pids[-1]}" -f "nginx: worker")
}

# Prints the headers the edge on port $1 sends for `/` to a new visitor, one per line, less
# `date` and `content-length` (which hyper adds): for `start_bare_hyper`.
edge_headers() {
  local line
  while IFS= read -r line; do
    line=${line%$'\r'}
    case "${line,,}" in http/* | date:* | content-length:* | "") continue ;; esac
    echo "$line"
  done < <(curl -s -D - -o /dev/null -H "Host: shop.bench.local" "http://127.0.0.1:$1/")
}

# Starts bench's bare hyper server on CPU $1, port $2, answering every request with the
# bytes of file $3; with the headers listed in file $4 (`edge_headers`), else with a
# content-type alone. Sets BARE_PID; waits for it.
start_bare_hyper() {
  local headers=()
  [ -z "${4:-}" ] || mapfile -t headers <"$4"
  taskset -c "$1" "$BIN/bare-hyper" "127.0.0.1:$2" "$3" "${headers[@]}" >/dev/null &
  pids+=($!)
  BARE_PID=${pids[-1]}
  wait_http "http://127.0.0.1:$2/" x
}
