# Shared shell helpers for Lockstep's entry points (script/test, script/demo, ...).
# Source it; it sets ROOT, puts the npm-installed Foundry binaries and script/solc on
# PATH, and installs the npm toolchain when it is missing or stale.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Installs node_modules from package-lock.json when absent or older than the lock file.
ensure_npm() {
  command -v npm >/dev/null 2>&1 || die "npm is required (Node.js 20+)"
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    log "npm ci (Foundry binaries, solc-js, LayerZero and OpenZeppelin contracts)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  fi
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
