# syntax=docker/dockerfile:1
#
# One image with every ledgerlink binary: the five services, the operator CLI and the
# two simulators. Kubernetes picks the binary with `command` (k8s/charts/ledgerlink).
#
#   docker build -t registry.example.com/ledgerlink:0.1.0 .
#
# No secret is baked in: every credential comes from the environment or a mounted
# file at run time (docs/configuration.md).

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# rust-toolchain.toml pins the toolchain; rustup installs it (and rustfmt and clippy,
# which the file lists) if the image's differs.
COPY . .
# Caches survive between builds on one builder (BuildKit); the binaries are copied
# out of the cached target directory before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
      -p ledgerlink-extractor \
      -p ledgerlink-scoring \
      -p ledgerlink-reminder \
      -p ledgerlink-klaviyo-gateway \
      -p ledgerlink-coordinator \
      -p ledgerlink \
      -p ledgerlink-netsuite-sim \
      -p ledgerlink-klaviyo-sim \
 && mkdir -p /out/bin /out/data \
 && for bin in ledgerlink-extractor ledgerlink-scoring ledgerlink-reminder ledgerlink-klaviyo-gateway \
      ledgerlink-coordinator ledgerlink ledgerlink-netsuite-sim ledgerlink-klaviyo-sim; do \
      install -m 0755 "target/release/$bin" /out/bin/; \
    done

# distroless cc: glibc, libgcc, CA certificates and tzdata; no shell, no package
# manager. The :nonroot tag runs as 65532:65532, the user the chart requires.
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="ledgerlink" \
      org.opencontainers.image.description="NetSuite → scoring → Klaviyo sync: five gRPC services, CLI and simulators" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/bin/ /usr/local/bin/
# The data directory for the embedded default (SQLite); Kubernetes mounts an emptyDir
# over it and uses PostgreSQL.
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/ledgerlink/
ENV LEDGERLINK_DATA_DIR=/var/lib/ledgerlink
WORKDIR /var/lib/ledgerlink
USER 65532:65532
# gRPC 50051–50055, metrics/health 9464, webhook 8088.
EXPOSE 50051 50052 50053 50054 50055 9464 8088
# Pick a binary, e.g. `docker run IMAGE ledgerlink-scoring --listen 0.0.0.0:50052`.
CMD ["ledgerlink", "--help"]
