#!/usr/bin/env bash
# Propagation latency with a fleet of edge processes on loopback, and the control plane's CPU
# and memory with the fleet connected. The control plane and the edges are pinned to one core,
# the poller (benches/src/propagation.rs) to the other.
#
#   bash benches/propagation.sh     # EDGES=20 PROMOTIONS=50 POLL_MS=2 SERVER_CPU=0 CLIENT_CPU=1
#
# Uses ports 18500 (control plane) and 18501.. (edges). Prints Markdown for benches/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
cd "$ROOT"
cargo build --release --locked -p switchyard-control -p switchyard-edge -p switchyard-benches
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  host: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
SERVER_CPU=$SERVER_CPU BIN_DIR="$ROOT/target/release" taskset -c "$CLIENT_CPU" "$ROOT/target/release/propagation"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
