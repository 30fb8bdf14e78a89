#!/usr/bin/env bash
# Regenerate the protobuf-c code for Proto/fastkv.proto into the FastKVProto target.
#   Sources/FastKVProto/include/fastkv.pb-c.h   (public header, imported by Swift)
#   Sources/FastKVProto/fastkv.pb-c.c
# The output is committed and never edited by hand; Tests/WireTests fails when it is stale.
# Idempotent: running it twice leaves the tree unchanged. Needs protoc-c (apt: protobuf-c-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gen-proto: error: $*" >&2; exit 1; }
command -v protoc-c >/dev/null || die "protoc-c not found (apt-get install -y protobuf-c-compiler)"

out=Sources/FastKVProto
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Run from Proto/ so the generated files name the input "fastkv.proto", whatever the caller's cwd.
(cd Proto && protoc-c --c_out="$tmp" fastkv.proto)

mkdir -p "$out/include"
# The .c includes "fastkv.pb-c.h"; SwiftPM puts include/ on the C target's header path.
cp "$tmp/fastkv.pb-c.h" "$out/include/fastkv.pb-c.h"
cp "$tmp/fastkv.pb-c.c" "$out/fastkv.pb-c.c"
echo "gen-proto: wrote $out/include/fastkv.pb-c.h and $out/fastkv.pb-c.c ($(protoc-c --version | head -1))"
