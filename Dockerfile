# syntax=docker/dockerfile:1
# Folio: one static-ish Rust binary on a small Debian base.
#
#   docker build -t folio .
#   docker run -p 8080:8080 -v folio-data:/var/lib/folio folio
#
# The same image runs every role: `serve` (default), `serve --workers 0`
# (API only), `worker`, `migrate`, `backup`.

ARG RUST_VERSION=1.94
ARG DEBIAN_RELEASE=bookworm

# ---- build -----------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# nasm: mozjpeg's SIMD; the C compiler builds the bundled SQLite, mozjpeg and libdeflate.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nasm gcc g++ make pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep crates and objects between builds; the binary is
# copied out of the (mounted) target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p folio \
 && install -D -m 0755 target/release/folio /out/folio

# ---- runtime ---------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: TLS to S3 / PostgreSQL / Redis. Nothing else is needed at
# run time: the job child process is this same binary (`folio __run-job`).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 folio \
 && useradd --system --uid 10001 --gid folio --home-dir /var/lib/folio \
      --no-create-home --shell /usr/sbin/nologin folio \
 && install -d -o folio -g folio -m 0750 /var/lib/folio
COPY --from=build /out/folio /usr/local/bin/folio

ENV FOLIO_LISTEN=0.0.0.0:8080 \
    FOLIO_DATA_DIR=/var/lib/folio \
    FOLIO_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/folio
VOLUME ["/var/lib/folio"]
EXPOSE 8080
# `folio healthcheck` GETs http://<FOLIO_LISTEN>/health/live (no curl in the image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["folio", "healthcheck"]
# SIGTERM: stop claiming, let running jobs finish for FOLIO_SHUTDOWN_GRACE
# (30 s by default), then re-queue the rest: give the container more than that
# (`docker stop -t 40`, compose `stop_grace_period`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["folio"]
CMD ["serve"]
