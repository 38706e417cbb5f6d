#!/usr/bin/env bash
# The one release build that scripts/cluster.sh and scripts/docker-build.sh share: every binary
# and the client examples (produce, consume), statically linked (glibc, crt-static) so the same
# files run on the host and in the FROM-scratch image. Builds with the host's Rust toolchain
# (cargo, and glibc's static libraries from libc6-dev). Build output goes to stderr; the
# directory holding the binaries is printed on stdout:
#   dir=$(scripts/release-build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps RUSTFLAGS away from build scripts and proc macros, which cannot be static.
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$target" \
    -p minirmq --bins -p rmq-client --examples >&2
echo "${CARGO_TARGET_DIR:-$PWD/target}/$target/release"
