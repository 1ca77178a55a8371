#!/usr/bin/env bash
# Service benchmarks quoted in BENCHMARKS.md: status-polling throughput and
# latency (wrk), peak RSS of the server while a 1 GB upload streams in, and
# end-to-end jobs per second for small compress jobs. Everything runs against
# a release `folio serve` on 127.0.0.1 with a throw-away data dir.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/folio-target}"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p folio
FOLIO="$CARGO_TARGET_DIR/release/folio"
SMALL=../shared/corpus/dev/pdf/pdf20__Simple_PDF_2.0_file.pdf
work=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# Rate limits off: one client on loopback measures the server, not its limiter.
FOLIO_LOG_LEVEL=warn FOLIO_CACHE=false FOLIO_MAX_UPLOAD_BYTES=2000000000 \
  FOLIO_RATE_LIMIT_UPLOADS=off FOLIO_RATE_LIMIT_READS=off \
  "$FOLIO" serve --listen "127.0.0.1:$port" --data-dir "$work/data" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fsS "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== status polling: wrk -t2 -c32 -d10s GET /v1/jobs/{id}"
id=$(curl -fsS -H 'Prefer: respond-async' -F "file=@$SMALL" -F level=lossless "$base/v1/compress" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 1
wrk -t2 -c32 -d10s --latency "$base/v1/jobs/$id" | grep -E "Requests/sec|Latency|99%|50%"

echo "== end-to-end small compress jobs (sync API, 4 concurrent clients, 200 jobs, cache off)"
start=$(date +%s.%N)
seq 200 | xargs -P 4 -I{} curl -fsS -o /dev/null -F "file=@$SMALL" -F level=lossless "$base/v1/compress"
end=$(date +%s.%N)
python3 -c "print('jobs/s: %.1f' % (200/($end-$start)))"

echo "== peak RSS while a 1 GB upload streams in"
python3 - "$work/big.pdf" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"%PDF-1.4\n")
    chunk = b"0" * (1 << 20)
    for _ in range(1024):
        f.write(chunk)
PY
rss_before=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
curl -sS -o /dev/null -w 'upload status %{http_code}, %{size_upload} bytes in %{time_total} s\n' \
  -H 'Prefer: respond-async' -F "file=@$work/big.pdf" -F level=lossless "$base/v1/compress"
echo "server RSS before upload: ${rss_before} kB; peak RSS (VmHWM) after: $(awk '/VmHWM/{print $2}' /proc/$pid/status) kB"
