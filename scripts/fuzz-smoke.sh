#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for SECS seconds (default 60),
# seeded from the corpus. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Crashes land in fuzz/artifacts/<target>/;
# each one becomes a regression test (replay it with the `replay` binary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
corpus=${FOLIO_CORPUS:-}
for d in "$root/shared/corpus" "$root/../shared/corpus" "$root/../../shared/corpus"; do
  [ -z "$corpus" ] && [ -d "$d" ] && corpus=$d
done
[ -n "$corpus" ] || { echo "shared/corpus not found (set FOLIO_CORPUS)" >&2; exit 1; }
cd "$root/fuzz"
# Seeds: files up to 200 KB, smallest first (the broken ones, mostly);
# FOLIO_FUZZ_SEEDS caps how many per target, so that a short smoke run
# gets past libFuzzer's first pass over its corpus.
seed() { # target, then files
  local t=$1; shift
  mkdir -p "corpus/$t"
  local n=0
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    [ -n "${FOLIO_FUZZ_SEEDS:-}" ] && [ "$n" -ge "$FOLIO_FUZZ_SEEDS" ] && break
    cp -n "$f" "corpus/$t/" || true
    n=$((n + 1))
  done < <(for f in "$@"; do [ -f "$f" ] && stat -c '%s %n' "$f"; done | sort -n | awk '$1 <= 200000 { sub(/^[0-9]+ /, ""); print }')
}
pdfs=("$corpus"/pdfjs/*.pdf)
for t in load compress compress_lossy render merge text; do seed "$t" "${pdfs[@]}"; done
seed images_jpeg "$corpus"/dev/images/*.jpg "$corpus"/dev/images/*.jpeg
seed images_png "$corpus"/dev/images/*.png
seed images_tiff "$corpus"/dev/images/*.tif "$corpus"/dev/images/*.tiff
# Outside the clone, like the main build cache, so that runs reuse it.
tdir="${FOLIO_FUZZ_TARGET_DIR:-$HOME/.cache/folio-fuzz-target}"
echo "== building the fuzz targets (nightly, AddressSanitizer) into $tdir"
cargo +nightly fuzz build --target-dir "$tdir"
# A fixed seed makes the smoke run repeat the same mutations (up to where the
# time runs out), so CI sees what the last local run saw; FOLIO_FUZZ_RNG=0
# lets libFuzzer pick a new one (longer exploratory runs).
rng="${FOLIO_FUZZ_RNG:-1}"
status=0
for t in ${FOLIO_FUZZ_TARGETS:-load compress compress_lossy render merge text images_jpeg images_png images_tiff}; do
  echo "== $t ($secs s)"
  cargo +nightly fuzz run --target-dir "$tdir" "$t" "corpus/$t" -- -max_total_time="$secs" -seed="$rng" -rss_limit_mb=4096 -timeout=60 -max_len=1048576 \
    || { echo "!! $t found a crash: see fuzz/artifacts/$t" >&2; status=1; }
done
exit $status
