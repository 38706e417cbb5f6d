#!/usr/bin/env bash
# Builds the minirmq:local image. There is no base image to build in, so the binaries come from
# the host's release build (scripts/release-build.sh: statically linked, shared with
# scripts/cluster.sh) and are copied into a FROM-scratch image: mqnamesrv, mqbroker, mqadmin,
# rmq-cluster, rmq-bench and the client examples produce and consume.
#   scripts/docker-build.sh && docker-compose up -d
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(scripts/release-build.sh)
dist=target/docker-dist
rm -rf "$dist"
mkdir -p "$dist"
for b in mqnamesrv mqbroker mqadmin rmq-cluster rmq-bench examples/produce examples/consume; do
    out="$dist/$(basename "$b")"
    cp "$src/$b" "$out"
    # Debug info is for local profiling; the image does not need it.
    if command -v strip >/dev/null; then strip "$out"; fi
    if ! ldd "$out" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
        echo "$b is dynamically linked; the scratch image cannot run it" >&2
        exit 1
    fi
done
docker build -t minirmq:local .
docker image ls minirmq:local --format 'built {{.Repository}}:{{.Tag}}, {{.Size}}'
echo "start it with: docker-compose up -d"
