#!/bin/bash
# The test command: installs what is missing, builds a normal and a
# sanitizer (ASan + UBSan) build, starts a private PostgreSQL, runs every
# test of both builds, fuzzes every parser briefly (tests/fuzz), builds and
# checks the Debian package, and stops every server it started, whatever
# happens.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

# Each phase's start, with the seconds since the run began: where the time goes.
phase() { echo "== $* (at ${SECONDS} s)"; }

deploy/install-deps.sh
deploy/web.sh

phase "build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
phase "build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSAFETY_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
# What a deployer may build: -O3 finds warnings (-Werror) the other two miss.
phase "build (Release)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSAFETY_TESTS=OFF >/dev/null
cmake --build build-release -j"$JOBS"

PGDIR=$ROOT/build/test-pg
export SAFETY_TEST_TMP=$ROOT/build/test-tmp

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# Daemons a test left behind when it was interrupted.
	pkill -TERM -f "^$ROOT/build(-asan)?/safetyd " 2>/dev/null || true
	"$ROOT/deploy/pg.sh" stop "$PGDIR" 2>/dev/null || true
	for d in "$SAFETY_TEST_TMP"/safety-pg-*; do
		[ -d "$d" ] && "$ROOT/deploy/pg.sh" stop "$d" 2>/dev/null || true
	done
	exit $rc
}
trap cleanup EXIT INT TERM

"$ROOT/deploy/pg.sh" stop "$PGDIR" 2>/dev/null || true
rm -rf "$PGDIR" "$SAFETY_TEST_TMP"
mkdir -p "$SAFETY_TEST_TMP"
phase "private PostgreSQL"
"$ROOT/deploy/pg.sh" start "$PGDIR"
export SAFETY_TEST_PG_DIR=$PGDIR
# ASan's leak checker and UBSan findings fail the test that triggered them.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
for b in build build-asan; do
	phase "tests ($b)"
	export SAFETY_TEST_LOG_DIR=$ROOT/$b/test-logs
	rm -rf "$SAFETY_TEST_LOG_DIR"
	# One test more than cores: most integration tests wait on timers and the
	# database half the time, so a third keeps both cores busy.
	ctest --test-dir "$b" --output-on-failure -j"$((JOBS + 1))" --timeout 600 || status=1
done
# Every parser under libFuzzer for a short while, after the regression inputs of past findings.
phase "fuzzing (${SAFETY_FUZZ_SECONDS:-15} s per target)"
"$ROOT/tests/fuzz/run.sh" "${SAFETY_FUZZ_SECONDS:-15}" || status=1
phase "Debian package"
"$ROOT/tests/package/check.sh" || status=1
if [ $status -ne 0 ]; then
	echo "tests/run.sh: FAILED" >&2
	exit 1
fi
echo "tests/run.sh: all tests passed in ${SECONDS} s"
