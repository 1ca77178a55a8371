#!/usr/bin/env bash
# Runs ../shared/bench/bench.py with Folio beside the reference tools and
# writes results/ (CSV per section + SUMMARY.md). Figures quoted in
# BENCHMARKS.md come from this script. Usage: scripts/bench.sh [SECTION...]
# Sections: compress images extract merge split (default: all of them).
# NO_SSIM=1 skips the renders for SSIM (compress only) and writes
# results/compress-nossim.csv: timings without the harness's render work,
# whose memory makes every later fork slower (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/folio-target}"

command -v gs >/dev/null && command -v mutool >/dev/null && command -v img2pdf >/dev/null && [ -x /usr/bin/time ] || {
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq qpdf poppler-utils ghostscript img2pdf mupdf-tools time >/dev/null
}
VENV="$HOME/.cache/bench-venv"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q numpy pillow scikit-image; }
PY="$VENV/bin/python"

cargo build --release -q -p folio
FOLIO="$CARGO_TARGET_DIR/release/folio"
BENCH=../shared/bench/bench.py
CORPUS=../shared/corpus/dev
RUNS="${RUNS:-3}"
NO_SSIM="${NO_SSIM:-}"
mkdir -p results

sections=("$@"); [ ${#sections[@]} -gt 0 ] || sections=(compress images extract merge split)
for s in "${sections[@]}"; do
  case "$s" in
    compress)
      $PY $BENCH compress --corpus $CORPUS --runs "$RUNS" --dpi 100 ${NO_SSIM:+--no-ssim} \
        --only-tools gs_ebook,gs_screen,qpdf_lossless,folio_lossless,folio_balanced,folio_strong \
        --tool "compress:folio_lossless=$FOLIO compress {in} -o {out} --level lossless" \
        --tool "compress:folio_balanced=$FOLIO compress {in} -o {out} --level balanced" \
        --tool "compress:folio_strong=$FOLIO compress {in} -o {out} --level strong" \
        --out "results/compress${NO_SSIM:+-nossim}.csv" ;;
    images)
      printf '{"images": {"folio": {"cmd": "%s images-to-pdf {in} -o {out}", "all_cmd": "%s images-to-pdf {ins} -o {out}"}}}' \
        "$FOLIO" "$FOLIO" > results/folio-tools.json
      $PY $BENCH images --corpus $CORPUS --runs "$RUNS" --only-tools img2pdf,folio \
        --tools-file results/folio-tools.json --out results/images.csv ;;
    extract)
      $PY $BENCH extract --corpus $CORPUS --runs "$RUNS" --only-tools pdftotext,folio \
        --tool "extract:folio=$FOLIO text {in} -o {out}" \
        --out results/extract.csv ;;
    merge)
      $PY $BENCH merge --corpus $CORPUS --runs "$RUNS" --only-tools qpdf,pdfunite,folio \
        --tool "merge:folio=$FOLIO merge {ins} -o {out}" \
        --out results/merge.csv ;;
    split)
      $PY $BENCH split --corpus $CORPUS --runs "$RUNS" --only-tools qpdf,folio \
        --tool "split:folio=$FOLIO split {in} --every 1 --out-dir {outdir}" \
        --out results/split.csv ;;
    *) echo "unknown section $s" >&2; exit 2 ;;
  esac
done
$PY $BENCH summary --results results --out results/SUMMARY.md
echo "wrote results/SUMMARY.md"
