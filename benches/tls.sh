#!/usr/bin/env bash
# HTTPS on the edge vs nginx, side by side in one run, with the same ECDSA P-256 certificate
# (made here with openssl, signed by a throwaway CA) and the same 2 KiB index.html:
#   - keep-alive requests/s: wrk -t1 -c64 over HTTPS (TLS 1.3, HTTP/1.1);
#   - full handshakes/s: wrk with `Connection: close`, so every request is a new TCP
#     connection and a full handshake (wrk does not resume sessions), with 64 connections
#     and with 1 at a time. (`openssl s_time` cannot send SNI in OpenSSL 3.0, and the edge
#     refuses handshakes without SNI, so it is not used.) wrk's side of a handshake costs
#     more CPU than either server's, so with one core for the client those rows measure wrk;
#   - full handshakes/s from `handshakes` (benches/src/handshakes.rs: rustls, the chain
#     verified, no resumption, `Connection: close`, 64 connections on one thread), a client
#     cheap enough that the server's core, not the client's, sets the rate.
# Each server is pinned to one core (SERVER_CPU), the load generator to another (CLIENT_CPU).
#
#   bash benches/tls.sh          # DURATION=10s ROUNDS=3 CONNECTIONS=64 SERVER_CPU=0 CLIENT_CPU=1
# Both servers prefer the same cipher suites (AES-128-GCM first, the server's order).
#
# wrk sends the URL's host as SNI, so `shop.bench.example` must resolve to 127.0.0.1: the
# script adds that line to /etc/hosts if it is missing (and says so). Installs wrk, nginx and
# openssl if missing. Prints a Markdown table for benches/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh" # install_missing, cpu_ticks
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_EDGE_HTTP=18480 PORT_EDGE=18481 PORT_NGINX=18482
DOMAIN=shop.bench.example

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
install_missing wrk nginx-light openssl python3 curl
if ! getent hosts "$DOMAIN" | grep -q 127.0.0.1; then
  echo "adding '127.0.0.1 $DOMAIN' to /etc/hosts (wrk sends the URL's host as SNI)" >&2
  echo "127.0.0.1 $DOMAIN" | $sudo tee -a /etc/hosts >/dev/null
fi
cd "$ROOT"
cargo build --release --locked -p switchyard-cli -p switchyard-control -p switchyard-edge -p switchyard-benches
BIN="$ROOT/target/release"

WORK=$(mktemp -d)
chmod 755 "$WORK"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# --- The certificate: a CA and an ECDSA P-256 leaf for $DOMAIN; the bundle: 2 KiB index.html.
cd "$WORK"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -subj "/CN=Bench CA" -days 2 -out ca.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out leaf.key
openssl req -new -key leaf.key -subj "/CN=$DOMAIN" -out leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$DOMAIN" >ext.cnf
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out leaf.pem 2>/dev/null
cat leaf.pem ca.pem >fullchain.pem
mkdir -p site
python3 -c "
page = '<!doctype html><html><head><title>Bench Shop</title></head><body><h1>Bench Shop</h1>'
page += ''.join(f'<p>Product {i}</p>' for i in range(200))
open('site/index.html', 'w').write(page[:2048 - 14] + '</body></html>')
"
cd "$ROOT"

wait_https() { # port
  for _ in $(seq 1 200); do
    curl -fs -o /dev/null --cacert "$WORK/ca.pem" "https://$DOMAIN:$1/" && return 0
    sleep 0.05
  done
  echo "HTTPS on port $1 did not come up" >&2; exit 1
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
cli deploy "$WORK/site" --app shop --promote >/dev/null
cli domains add "$DOMAIN" --app shop >/dev/null
cli certs add --domain "$DOMAIN" --cert "$WORK/fullchain.pem" --key "$WORK/leaf.key" >/dev/null
taskset -c "$SERVER_CPU" "$BIN/switchyard-edge" --control-plane "$API" --token "$EDGE_TOKEN" \
  --http-addr "127.0.0.1:$PORT_EDGE_HTTP" --https-addr "127.0.0.1:$PORT_EDGE" --cache-dir "$WORK/edge" \
  --base-domain bench.local 2>"$WORK/edge.log" >/dev/null & pids+=($!)
EDGE_PID=$!
wait_https "$PORT_EDGE"

# --- nginx: one worker, same certificate and file, session cache and tickets on, h2 offered.
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
error_log $WORK/nginx/logs/error.log error;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX ssl http2;
    server_name $DOMAIN;
    ssl_certificate $WORK/fullchain.pem;
    ssl_certificate_key $WORK/leaf.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # The edge's order of cipher suites, the server's choice (as the edge does).
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    root $WORK/site;
  }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx.err" & pids+=($!)
wait_https "$PORT_NGINX"
NGINX_PID=$(pgrep -P "$(cat "$WORK/nginx/nginx.pid" 2>/dev/null || pgrep -f "nginx -c $WORK/nginx.conf" | head -1)" | head -1)

rps() { # wrk output → "requests/s requests"
  awk '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {print r, n}'
}
keepalive() { # port duration
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$2" "https://$DOMAIN:$1/" | rps
}
handshakes_wrk() { # port duration
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$2" -H 'Connection: close' "https://$DOMAIN:$1/" | rps
}
handshakes_one() { # port duration
  taskset -c "$CLIENT_CPU" wrk -t1 -c1 -d"$2" -H 'Connection: close' "https://$DOMAIN:$1/" | rps
}
handshakes_rustls() { # port duration
  taskset -c "$CLIENT_CPU" "$BIN/handshakes" "127.0.0.1:$1" "$DOMAIN" "$WORK/ca.pem" "$CONNECTIONS" "${2%s}" |
    awk '{n = $1; r = $5; f = $6} END {
      sub(/\/s,$/, "", r)
      if (f != 0) { print "tls.sh: " f " handshakes failed" > "/dev/stderr"; exit 1 }
      print r, n }'
}
cell() { # measure port pid → "requests/s server-CPU-µs-per-request"
  local before after rps n
  before=$(cpu_ticks "$3")
  read -r rps n <<<"$($1 "$2" "$DURATION")"
  after=$(cpu_ticks "$3")
  echo "$rps $(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $n:.0f}')")"
}
answer() { # port → "status protocol bytes cipher" of one HTTP/1.1 curl with the CA (what wrk speaks)
  local cipher
  cipher=$(openssl s_client -connect "127.0.0.1:$1" -servername "$DOMAIN" </dev/null 2>/dev/null |
    sed -n 's/.*Cipher is \(.*\)/\1/p' | head -1)
  echo "$(curl -s -o /dev/null --http1.1 --cacert "$WORK/ca.pem" -w '%{http_code} h%{http_version} %{size_download}' \
    "https://$DOMAIN:$1/") $cipher"
}

# ROUNDS rounds per measure, the two servers in alternating order, each cell after a 2 s
# warm-up; the medians of requests/s and of the per-round ratio edge ÷ nginx, and the server
# process's CPU time (user + system, from /proc) per request: with one wrk thread the client
# can be the limit of the handshake rows, and then the server's CPU per handshake is what
# tells the servers apart.
echo "# $(date -u +%Y-%m-%dT%H:%MZ) wrk -t1 -d$DURATION, $ROUNDS round(s), servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo
echo "| measure | server | answer (status, protocol, bytes, cipher) | per second (median) | edge ÷ this (median) | lowest–highest | server CPU µs per request (median) |"
echo "|---|---|---|---:|---:|---|---:|"
for measure in keepalive handshakes_wrk handshakes_one handshakes_rustls; do
  edge=() nginx=() edge_cpu=() nginx_cpu=()
  for round in $(seq 1 "$ROUNDS"); do
    order=(edge nginx)
    ((round % 2 == 1)) || order=(nginx edge)
    for server in "${order[@]}"; do
      if [ "$server" = edge ]; then port=$PORT_EDGE pid=$EDGE_PID; else port=$PORT_NGINX pid=$NGINX_PID; fi
      $measure "$port" 2s >/dev/null
      read -r rps cpu <<<"$(cell "$measure" "$port" "$pid")"
      if [ "$server" = edge ]; then edge+=("$rps") edge_cpu+=("$cpu"); else nginx+=("$rps") nginx_cpu+=("$cpu"); fi
    done
  done
  label=$measure
  case $measure in
    keepalive) label="keep-alive requests (wrk -c$CONNECTIONS, HTTP/1.1)" ;;
    handshakes_wrk) label="full handshakes (wrk -c$CONNECTIONS, Connection: close)" ;;
    handshakes_one) label="full handshakes (wrk -c1, Connection: close)" ;;
    handshakes_rustls) label="full handshakes (handshakes, rustls client, -c$CONNECTIONS)" ;;
  esac
  python3 - "$label" "$(answer "$PORT_EDGE")" "$(answer "$PORT_NGINX")" "${edge[*]}" "${nginx[*]}" \
    "${edge_cpu[*]}" "${nginx_cpu[*]}" <<'PY'
import statistics, sys
label, edge_answer, nginx_answer = sys.argv[1:4]
edge, nginx, edge_cpu, nginx_cpu = [list(map(float, a.split())) for a in sys.argv[4:8]]
ratios = sorted(e / n for e, n in zip(edge, nginx))
print(f"| {label} | switchyard-edge | {edge_answer} | {statistics.median(edge):.0f} | 1.00 | | {statistics.median(edge_cpu):.0f} |")
print(f"| {label} | nginx | {nginx_answer} | {statistics.median(nginx):.0f} | {statistics.median(ratios):.2f} "
      f"| {ratios[0]:.2f}–{ratios[-1]:.2f} | {statistics.median(nginx_cpu):.0f} |")
PY
done
