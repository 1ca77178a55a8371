#!/usr/bin/env bash
# The one command that runs Folio's tests. It sets up what they need first
# (scripts/test-setup.sh), then: formatting, clippy, every crate's tests, the
# web UI's end-to-end tests in headless Chromium (e2e/), and the robustness
# run of every operation over ../shared/corpus/pdfjs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse a build cache outside the clone when there is one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/folio-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/test-setup.sh

corpus="../shared/corpus"
if [ ! -d "$corpus/dev" ]; then
  echo "!!! ../shared/corpus is absent: corpus tests will SKIP (FOLIO_ALLOW_NO_CORPUS=1)" >&2
  export FOLIO_ALLOW_NO_CORPUS=1
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
# The web UI in headless Chromium, against the debug binary cargo test built.
if [ -d "$corpus/dev" ]; then
  echo "== e2e: web UI in headless Chromium"
  ( cd e2e && npm test )
else
  echo "!!! $corpus/dev is absent: e2e tests SKIPPED" >&2
fi
if [ -d "$corpus/pdfjs" ]; then
  echo "== robustness: every operation on every file of $corpus/pdfjs"
  cargo run -q --locked -p folio-engine --example corpus_check -- "$corpus/pdfjs" --jobs 2 --timeout 180
else
  echo "!!! $corpus/pdfjs is absent: robustness run SKIPPED" >&2
fi
# Every cargo-fuzz target for FOLIO_FUZZ_SECS seconds (0 = skip), seeded with
# the FOLIO_FUZZ_SEEDS smallest corpus files; a crash fails the run.
fuzz_secs="${FOLIO_FUZZ_SECS:-30}"
if [ "$fuzz_secs" = 0 ]; then
  echo "!!! FOLIO_FUZZ_SECS=0: fuzz smoke run SKIPPED" >&2
elif ! cargo fuzz --version >/dev/null 2>&1 || ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "!!! no nightly toolchain or cargo-fuzz: fuzz smoke run SKIPPED" >&2
elif [ ! -d "$corpus/pdfjs" ]; then
  echo "!!! $corpus/pdfjs is absent: fuzz smoke run SKIPPED" >&2
else
  echo "== fuzz smoke: every target for $fuzz_secs s"
  FOLIO_FUZZ_SEEDS="${FOLIO_FUZZ_SEEDS:-60}" scripts/fuzz-smoke.sh "$fuzz_secs"
fi
