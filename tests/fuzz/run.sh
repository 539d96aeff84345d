#!/bin/bash
# Builds every fuzz target with clang (libFuzzer + ASan + UBSan) in
# build-fuzz, replays the regression inputs of earlier findings, then fuzzes
# each target for SECONDS from seed corpora made of the project's test data.
# Prints each target's executions; fails on the first finding, naming the
# input that triggered it (add it under tests/fuzz/regressions/TARGET/).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
# CI shows standard output only: say where a step failed.
trap 'echo "tests/fuzz/run.sh: failed at line $LINENO: $BASH_COMMAND"' ERR
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECS=${1:-30}
shift || true
# SAFETY_FUZZ_BUILD: another build folder, so long runs and the test command do not share one.
BUILD=${SAFETY_FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=$(nproc)

# SAFETY_FUZZ_NO_BUILD=1: use the targets already built (run-long.sh builds once).
if [ -z "${SAFETY_FUZZ_NO_BUILD:-}" ]; then
	deploy/install-deps.sh
	CC=clang cmake -S . -B "$BUILD" -DSAFETY_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" -j"$JOBS" >/dev/null
fi

# Seeds: files per target, made once from the test data.
SEEDS=$BUILD/seeds
seed_lines() { # one file per line of stdin
	local dir=$1 n=0
	mkdir -p "$dir"
	while IFS= read -r line; do
		n=$((n + 1))
		printf '%s' "$line" >"$dir/$n"
	done
}
if [ ! -d "$SEEDS" ]; then
	grep -v '^#' tests/data/replies.tsv | cut -f3 | seed_lines "$SEEDS/reply"
	cp -r "$SEEDS/reply" "$SEEDS/sms"
	# awk reads to the end: head would close the pipe early and, under pipefail, a
	# writer killed by SIGPIPE would end the script at random.
	grep -v '^#' tests/data/replies.tsv | cut -f3 |
		awk 'NR <= 100 { print "status=safe&people=2&message=" $0 }' | seed_lines "$SEEDS/form"
	mkdir -p "$SEEDS/alert" "$SEEDS/pfif" "$SEEDS/import" "$SEEDS/config" "$SEEDS/geojson"
	cp tests/data/alerts/*.xml tests/data/alerts/*.cap tests/data/alerts/*.json \
		tests/data/alerts/*.geojson tests/data/alerts/*.atom "$SEEDS/alert/"
	cp tests/data/pfif/*.xml "$SEEDS/pfif/"
	# The import target's first bytes choose options; plain files are fine seeds still.
	cp tests/data/import/* "$SEEDS/import/"
	cp deploy/safety.conf.example "$SEEDS/config/"
	cp tests/data/plan/afad-hatay.geojson "$SEEDS/geojson/"
	printf '{"type":"Polygon","coordinates":[[[36,36],[36.2,36],[36.2,36.2],[36,36]]]}' \
		>"$SEEDS/geojson/square"
	printf '%s\n' '010-1234-5678' '+82 10 1234 5678' '00821012345678' '0532 123 45 67' \
		'+380 44 123 4567' '081-234-5678' | seed_lines "$SEEDS/phone"
	printf '%s\n' '2023-02-06' '2023.02.06' '06/02/2023' '2023. 2. 6.' '20230206' \
		'2023-02-06T01:17:34Z' | seed_lines "$SEEDS/date"
	printf '%s\n' 'kim@example.org' '"a b"@example.org' 'x@[127.0.0.1]' | seed_lines "$SEEDS/email"
	printf '%s\n' '김민준' 'KIM Min-jun' 'Ｋｉｍ' | seed_lines "$SEEDS/name"
	printf '%s\n' '37.57,126.98' 'geo:37.57,126.98;u=35' \
		'https://maps.google.com/?q=37.57,126.98' | seed_lines "$SEEDS/geo"
	mkdir -p "$SEEDS/token"
fi

# Each target once: two jobs of one target would share its findings folder.
targets=()
for t in "$@"; do
	case " ${targets[*]} " in *" $t "*) ;; *) targets+=("$t") ;; esac
done
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c)
		targets+=("${t#fuzz_}")
	done
fi

# One target: its regression inputs, then SECONDS of fuzzing. Prints its
# line; returns non-zero on a finding.
fuzz_one() {
	local t=$1 bin corpus log execs
	bin=$BUILD/tests/fuzz/fuzz_$t
	corpus=$BUILD/corpus/$t
	mkdir -p "$corpus" "$SEEDS/$t" "$BUILD/findings/$t"
	# Earlier findings first: each must now pass.
	if [ -d "tests/fuzz/regressions/$t" ]; then
		"$bin" -runs=1 tests/fuzz/regressions/"$t"/* >/dev/null 2>&1 ||
			{ echo "fuzz $t: a regression input fails again (tests/fuzz/regressions/$t)"; return 1; }
	fi
	log=$BUILD/findings/$t/last.log
	if ! (cd "$BUILD/findings/$t" && "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 "$corpus" "$SEEDS/$t" >"$log" 2>&1); then
		echo "fuzz $t: FINDING after $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?') executions"
		grep -E "ERROR|SUMMARY|Test unit written to" "$log" | head -5
		return 1
	fi
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	echo "fuzz $t: $execs executions in ${SECS}s, no finding"
}

# A libFuzzer process uses one core: as many targets at once as there are cores.
for t in "${targets[@]}"; do
	mkdir -p "$BUILD/findings/$t"
	rm -f "$BUILD/findings/$t/status"
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n || true
	done
	(
		set +e
		fuzz_one "$t" >"$BUILD/findings/$t/summary" 2>&1
		echo $? >"$BUILD/findings/$t/status"
	) &
done
wait
failed=0
for t in "${targets[@]}"; do
	cat "$BUILD/findings/$t/summary"
	[ "$(cat "$BUILD/findings/$t/status" 2>/dev/null)" = 0 ] || failed=1
done
exit $failed
