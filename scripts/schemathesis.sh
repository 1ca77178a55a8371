#!/usr/bin/env bash
# API fuzzing with schemathesis (PyPI) against /openapi.json of a fresh
# `folio serve`: no 5xx, status codes, content types and bodies as documented.
#
# Usage: scripts/schemathesis.sh [FOLIO_BIN] [MAX_EXAMPLES]
# Needs `schemathesis` on PATH, or installs it into .venv-schemathesis.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$root/target}/debug/folio}
examples=${2:-50}
st=$(command -v schemathesis || true)
if [ -z "$st" ]; then
  python3 -m venv "$root/.venv-schemathesis"
  "$root/.venv-schemathesis/bin/pip" install -q schemathesis
  st="$root/.venv-schemathesis/bin/schemathesis"
fi
data=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
FOLIO_RATE_LIMIT_UPLOADS=off FOLIO_RATE_LIMIT_READS=off FOLIO_LOG_LEVEL=warn FOLIO_SYNC_WAIT=5 \
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$data/d" >"$data/out" 2>"$data/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$data/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^folio listening on //p' "$data/out")
"$st" run "$url/openapi.json" --url "$url" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" --request-timeout 60 --workers 1
kill -0 "$pid" # the server survived
echo "schemathesis: OK against $url (server pid $pid still running)"
