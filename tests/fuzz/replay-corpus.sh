#!/bin/sh
# Replay each fuzz target's checked-in corpus through its plain (non-libFuzzer) build.
set -e
for t in toml http1 manifest extract logline handshake spdy docker_manifest policy registries; do
    ./tests/fuzz/fuzz_$t "$top_srcdir/tests/fuzz/corpus/$t"
done
