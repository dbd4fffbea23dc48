# shellcheck shell=bash
# Helpers for the generated SDKs (sdk/), shared by script/sdk-generate and script/sdk-test.
# Source after script/lib.sh. How the SDKs are generated and checked: sdk/README.md.

SDK_DIR="$ROOT/sdk"
SDK_VENV="$SDK_DIR/python/.venv"

# Installs sdk/ts/node_modules from its package-lock.json when absent or older than the lock.
sdk_ensure_ts() {
  npm_ci_if_stale "$SDK_DIR/ts" "openapi-typescript, openapi-fetch, standardwebhooks, typescript, tsx"
}

# Creates sdk/python/.venv with the pinned requirements.txt (generator, ruff, runtime) and
# the SDK itself (editable), again whenever requirements.txt or pyproject.toml change.
sdk_ensure_python() {
  command -v python3 >/dev/null 2>&1 || die "python3 (3.11+) is required for the Python SDK"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "the Python SDK needs Python 3.11+"
  local stamp="$SDK_VENV/.lockstep-installed"
  local want
  want="$(cat "$SDK_DIR/python/requirements.txt" "$SDK_DIR/python/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$SDK_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the Python SDK's pinned environment into sdk/python/.venv (PyPI)"
    rm -rf "$SDK_VENV"
    python3 -m venv "$SDK_VENV"
    "$SDK_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$SDK_DIR/python/requirements.txt" ||
      die "pip install -r sdk/python/requirements.txt failed"
    "$SDK_VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --config-settings editable_mode=compat -e "$SDK_DIR/python" ||
      die "pip install -e sdk/python failed"
    echo "$want" >"$stamp"
  fi
}

# Normalises an OpenAPI document ($1) into $2: keys sorted, two-space indent, final newline.
sdk_normalise_openapi() {
  python3 -c '
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    document = json.load(f)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
' "$1" "$2" || die "$1 is not a JSON document"
}

# Generates the TypeScript schema from the OpenAPI document $1 into the file $2.
sdk_generate_ts() {
  local doc out
  doc="$(realpath "$1")"
  out="$(realpath -m "$2")"
  (cd "$SDK_DIR/ts" && node_modules/.bin/openapi-typescript "$doc" --output "$out" >/dev/null) ||
    die "openapi-typescript failed on $1"
}

# Generates the Python package from the OpenAPI document $1 into the new directory
# $2/lockstep_client (always outside the repository, so ruff formats it with its defaults
# whatever configuration the tree has; script/sdk-generate copies it in).
sdk_generate_python() {
  local doc="$1" out="$2"
  mkdir -p "$out"
  "$SDK_VENV/bin/python" "$SDK_DIR/python/openapi_for_generator.py" "$doc" "$out/openapi.json"
  (cd "$out" && RUFF_NO_CACHE=true PATH="$SDK_VENV/bin:$PATH" "$SDK_VENV/bin/openapi-python-client" generate \
    --path "$out/openapi.json" --meta none --config "$SDK_DIR/python/openapi-python-client.yml" \
    --output-path "$out/lockstep_client" --fail-on-warning >"$out/generator.log" 2>&1) ||
    { cat "$out/generator.log" >&2; die "openapi-python-client failed on $1"; }
  rm -rf "$out/openapi.json" "$out/generator.log" "$out/lockstep_client/.ruff_cache"
}

# Fetches $1/openapi.json into $2, normalised.
sdk_fetch_openapi() {
  local raw
  raw="$(mktemp)"
  curl -fsS "$1/openapi.json" -o "$raw" || { rm -f "$raw"; die "GET $1/openapi.json failed"; }
  sdk_normalise_openapi "$raw" "$2"
  rm -f "$raw"
}
