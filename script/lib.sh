# shellcheck shell=bash
# Shared shell helpers for Lockstep's entry points (script/test, script/demo, ...).
# Source it; it sets ROOT, puts the npm-installed Foundry binaries and script/solc on
# PATH, and installs the npm toolchain when it is missing or stale.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs `npm ci` in the directory $1 when its node_modules is absent or older than its
# package-lock.json; $2 says what it installs (for the log line).
npm_ci_if_stale() {
  command -v npm >/dev/null 2>&1 || die "npm is required (Node.js 20+)"
  local dir="$1" stamp="$1/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    local where="${dir#"$ROOT"}"
    log "npm ci${where:+ in ${where#/}} ($2)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed"
  fi
}

# Installs node_modules from package-lock.json when absent or older than the lock file.
ensure_npm() {
  npm_ci_if_stale "$ROOT" "Foundry binaries, solc-js, LayerZero and OpenZeppelin contracts"
  local arch
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported architecture $(uname -m)" ;;
  esac
  local os
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "unsupported OS $(uname -s)" ;;
  esac
  local tool
  for tool in forge anvil cast; do
    local dir="$ROOT/node_modules/@foundry-rs/$tool-$os-$arch/bin"
    [ -x "$dir/$tool" ] || die "missing $dir/$tool after npm ci"
    PATH="$dir:$PATH"
  done
  export PATH
}

# Checks that the Rust toolchain with rustfmt and clippy is present.
ensure_cargo() {
  command -v cargo >/dev/null 2>&1 || die "cargo is required (https://rustup.rs)"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; another process could take it before use).
free_loopback_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes a throwaway `lockstep serve` configuration to $1/lockstep.toml and exports
# LOCKSTEP_CONFIG: listen on 127.0.0.1:$2, SQLite under $1/data, and two chains without
# rpc_url (31337 / eid 40161 and 31338 / eid 40162): instructions validate against them,
# the chain side stays off, so a matched settlement stops at COMPLIANCE_CLEARED. $3
# (optional) is TOML placed before the chains: top-level keys first, then tables such as
# [http] or [webhooks]. Used by script/schemathesis and script/sdk-test.
lockstep_throwaway_config() {
  local dir="$1" port="$2" extra="${3:-}"
  cat >"$dir/lockstep.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
$extra

# Chains without rpc_url: instructions validate against them, the chain side stays off.
[[chains]]
chain_id = 31337
eid = 40161
escrow = "0x00000000000000000000000000000000000E5C01"
endpoint = "0x00000000000000000000000000000000000E5C01"
receive_lib = "0x00000000000000000000000000000000000E5C01"

[[chains]]
chain_id = 31338
eid = 40162
escrow = "0x00000000000000000000000000000000000E5C02"
endpoint = "0x00000000000000000000000000000000000E5C02"
receive_lib = "0x00000000000000000000000000000000000E5C02"
TOML
  export LOCKSTEP_CONFIG="$dir/lockstep.toml"
}

# Starts `lockstep serve` in the background with a fixed development attester key (anvil's
# account 1; these servers attest nothing of value) and waits up to 10 s for $1/healthz.
# $2 is the log file; the rest is the command, the binary optionally behind `env VAR=...`.
# Sets LOCKSTEP_SERVER_PID; stop it with lockstep_serve_stop (safe to call twice).
lockstep_serve_start() {
  local base="$1" logfile="$2"
  shift 2
  log "starting ${*: -1} serve on $base"
  LOCKSTEP_ATTESTER_KEY="0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" \
    "$@" serve >"$logfile" 2>&1 &
  LOCKSTEP_SERVER_PID=$!
  local _
  for _ in $(seq 1 100); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$LOCKSTEP_SERVER_PID" 2>/dev/null || { cat "$logfile" >&2; die "the server exited"; }
    sleep 0.1
  done
  cat "$logfile" >&2
  die "the server did not come up on $base"
}

# Stops the server lockstep_serve_start started: SIGTERM, up to 5 s to drain, then SIGKILL.
lockstep_serve_stop() {
  local pid="${LOCKSTEP_SERVER_PID:-}"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  LOCKSTEP_SERVER_PID=""
}
