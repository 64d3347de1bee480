#!/usr/bin/env bash
# Switchyard's whole test suite, on a fresh Debian machine with a Rust toolchain: installs what
# the tests need (headless Chromium for the browser test, curl for the TLS test), then checks formatting and lints and
# runs every unit and end-to-end test. Run from anywhere: `bash deploy/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing test dependencies: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
# The end-to-end tests start the workspace's binaries; build them all first. This includes
# `s3-test-server` (crates/testkit: s3s + s3s-fs from crates.io, locked like everything else),
# the S3 protocol server the blob-store and S3 end-to-end tests start on loopback ports.
# `--all-targets` resolves features as `cargo test` does (tokio's `test-util` comes in with the
# dev-dependencies), so the test run below reuses this build instead of compiling a second copy.
cargo build --locked --workspace --all-targets
cargo test --locked --workspace
