#!/bin/sh
# Replay each fuzz target's checked-in corpus through its plain (non-libFuzzer) build.
set -e
# Every target has a corpus directory of its name.
for t in $(ls "$top_srcdir/tests/fuzz/corpus"); do
    ./tests/fuzz/fuzz_$t "$top_srcdir/tests/fuzz/corpus/$t"
done
