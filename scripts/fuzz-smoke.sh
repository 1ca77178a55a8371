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
seed() { # target, then files
  local t=$1; shift
  mkdir -p "corpus/$t"
  for f in "$@"; do
    # Small seeds only: libFuzzer's default max_len is 4096 bytes anyway.
    [ "$(stat -c%s "$f")" -le 200000 ] && cp -n "$f" "corpus/$t/" || true
  done
}
pdfs=("$corpus"/pdfjs/*.pdf)
seed load "${pdfs[@]}"; seed compress "${pdfs[@]}"; seed merge "${pdfs[@]}"; seed text "${pdfs[@]}"
seed images_jpeg "$corpus"/dev/images/*.jpg "$corpus"/dev/images/*.jpeg
seed images_png "$corpus"/dev/images/*.png
seed images_tiff "$corpus"/dev/images/*.tif "$corpus"/dev/images/*.tiff
status=0
for t in load compress merge text images_jpeg images_png images_tiff; do
  echo "== $t ($secs s)"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 \
    || { echo "!! $t found a crash: see fuzz/artifacts/$t" >&2; status=1; }
done
exit $status
