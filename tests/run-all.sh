#!/bin/sh
# The whole test suite, as CI runs it (as root, on Debian 12): install the test dependencies;
# build with gcc and clang with warnings as errors; run the unit tests and corpus replays; run
# the unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer; run the
# VM lane (tests/vm/run.sh); run each libFuzzer target for a bounded time; check formatting.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-35}
JOBS=$(nproc)
BUILD=${BUILD_DIR:-$TOP/build}

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
packaging/install-deps.sh --test

step "autogen"
./autogen.sh >/dev/null 2>&1

configure_in() { # dir, configure args...
    d=$1; shift
    rm -rf "$d"; mkdir -p "$d"
    (cd "$d" && "$TOP/configure" --enable-werror "$@" >configure.out 2>&1) || {
        cat "$d/configure.out"; exit 1; }
}

step "clang-format"
if command -v clang-format-14 >/dev/null 2>&1; then CF=clang-format-14; else CF=clang-format; fi
unformatted=$(find src tests -name '*.[ch]' -print0 | xargs -0 "$CF" --dry-run 2>&1 | grep -c 'warning:' || true)
if [ "$unformatted" != 0 ]; then
    find src tests -name '*.[ch]' -print0 | xargs -0 "$CF" --dry-run 2>&1 | head -40
    echo "clang-format: $unformatted places differ"; exit 1
fi

step "gcc -Werror build, unit tests, corpus replay"
configure_in "$BUILD/gcc" CC=gcc
make -C "$BUILD/gcc" -j"$JOBS" check || { cat "$BUILD"/gcc/tests/*/*.log "$BUILD"/gcc/*.log 2>/dev/null | tail -100; exit 1; }

step "clang -Werror build, unit tests"
configure_in "$BUILD/clang" CC=clang
make -C "$BUILD/clang" -j"$JOBS" check

step "ASan+UBSan: unit tests and integration tests"
configure_in "$BUILD/asan" CC=gcc --enable-asan --enable-ubsan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make -C "$BUILD/asan" -j"$JOBS" check || { cat "$BUILD"/asan/tests/*/*.log 2>/dev/null | tail -100; exit 1; }
make -C "$BUILD/asan" -j"$JOBS" cribd
CRIBD="$BUILD/asan/cribd" /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/integration

step "VM lane: cgroup v2 and systemd as PID 1, in a qemu guest"
tests/vm/run.sh "$BUILD/gcc"

step "libFuzzer targets, ${FUZZ_SECONDS}s each"
configure_in "$BUILD/fuzz" CC=clang --enable-fuzzers --enable-asan --enable-ubsan
make -C "$BUILD/fuzz" src/proto/runtime.pb-c.h  # generated first: named targets skip BUILT_SOURCES
TARGETS=$(ls tests/fuzz/corpus)  # every target has a corpus directory of its name
make -C "$BUILD/fuzz" -j"$JOBS" $(for t in $TARGETS; do printf 'tests/fuzz/fuzz_%s ' "$t"; done)
for t in $TARGETS; do
    work="$BUILD/fuzz/corpus-$t"
    rm -rf "$work"; mkdir -p "$work"
    "$BUILD/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work" "tests/fuzz/corpus/$t" 2>"$BUILD/fuzz/fuzz_$t.log" || {
        tail -60 "$BUILD/fuzz/fuzz_$t.log"; exit 1; }
    grep -E 'stat::number_of_executed_units' "$BUILD/fuzz/fuzz_$t.log" || true
done

step "all passed"
