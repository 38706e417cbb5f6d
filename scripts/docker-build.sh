#!/usr/bin/env bash
# Builds the minirmq:local image. There is no base image to build in, so the binaries are built
# here on the host, statically linked (glibc, crt-static), and copied into a FROM-scratch image.
#   scripts/docker-build.sh && docker-compose up -d      (or `docker compose up -d`)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-gnu
# --target keeps RUSTFLAGS away from build scripts and proc macros, which cannot be static.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release -p minirmq --bins --target "$TARGET"
src=${CARGO_TARGET_DIR:-target}/$TARGET/release
dist=target/docker-dist
rm -rf "$dist"
mkdir -p "$dist"
for b in mqnamesrv mqbroker mqadmin rmq-bench; do
    cp "$src/$b" "$dist/"
    # Debug info is for local profiling; the image does not need it.
    if command -v strip >/dev/null; then strip "$dist/$b"; fi
    if ! ldd "$dist/$b" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
        echo "$b is dynamically linked; the scratch image cannot run it" >&2
        exit 1
    fi
done
docker build -t minirmq:local .
echo "built minirmq:local; start it with: docker-compose up -d   (or: docker compose up -d)"
