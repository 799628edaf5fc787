#!/usr/bin/env bash
# scripts/fuzz.sh [--seconds N] [--seeds] [TARGET...]: builds the libFuzzer
# targets of fuzz/ (clang 16, ASan + UBSan) in ./build-fuzz (or
# $TESSERA_FUZZ_BUILD_DIR) and runs each TARGET (default: all of them) for N
# seconds (default 60) from its seeds in fuzz/corpus/TARGET. See
# fuzz/README.md.
#
#  1. New inputs go to BUILD/corpus/TARGET, never into the repository's
#     seeds; a crashing input goes to BUILD/artifacts/TARGET/ and the script
#     prints how to replay it.
#  2. Targets run one after another, each bounded by timeout(1) and with
#     TMPDIR in BUILD/tmp/TARGET (removed afterwards); one line per target
#     reports its executions and coverage (libFuzzer's "cov:").
#  3. --seeds rewrites fuzz/corpus/ with the seed generator
#     (fuzz/make_corpus.cc) instead of fuzzing.
#  4. Exit status: 0 when no target crashed, 1 when one did, 77 when clang
#     16 or its libFuzzer runtime is missing (scripts/install-test-deps.sh
#     installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
seeds=0
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds)
      seconds=$2
      shift 2
      ;;
    --seeds)
      seeds=1
      shift
      ;;
    -h | --help)
      sed -n '2,18p' "$0"
      exit 0
      ;;
    *)
      targets+=("$1")
      shift
      ;;
  esac
done

if ! command -v clang++-16 >/dev/null || ! ls /usr/lib/llvm-16/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: skipped: clang++-16 and libclang-rt-16-dev are needed (scripts/install-test-deps.sh)"
  exit 77
fi

BUILD=${TESSERA_FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-16 \
  -DCMAKE_CXX_COMPILER=clang++-16 -DTESSERA_FUZZ=ON >/dev/null
if ! ninja -C "$BUILD" fuzzers >"$BUILD/fuzz-build.log" 2>&1; then
  tail -40 "$BUILD/fuzz-build.log"
  echo "fuzz: the build failed (log: $BUILD/fuzz-build.log)"
  exit 1
fi

if [ "$seeds" -eq 1 ]; then
  rm -rf fuzz/corpus
  "$BUILD/fuzz/fuzz_make_corpus" fuzz/corpus
  echo "fuzz: wrote $(find fuzz/corpus -type f | wc -l) seeds to fuzz/corpus"
  exit 0
fi

if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cc; do
    t=$(basename "$f" _fuzz.cc)
    targets+=("$t")
  done
fi

for s in llvm-symbolizer-16 llvm-symbolizer-14 llvm-symbolizer; do
  if command -v "$s" >/dev/null; then
    export ASAN_SYMBOLIZER_PATH
    ASAN_SYMBOLIZER_PATH=$(command -v "$s")
    break
  fi
done
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
printf '%-14s %12s %8s  %s\n' target executions cov result
for t in "${targets[@]}"; do
  bin="$BUILD/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz: no target '$t' (fuzz/${t}_fuzz.cc)" >&2
    failed+=("$t")
    continue
  fi
  corpus="$BUILD/corpus/$t"
  artifacts="$BUILD/artifacts/$t"
  log="$BUILD/fuzz-$t.log"
  scratch="$BUILD/tmp/$t"  # TMPDIR of the run (the control target's pool)
  rm -rf "$scratch"
  mkdir -p "$corpus" "$artifacts" fuzz/corpus/"$t" "$scratch"
  rc=0
  TMPDIR=$(cd "$scratch" && pwd) timeout -k 10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="CRASH (status $rc): $(grep -m1 -E 'ERROR|fuzz check failed|runtime error' "$log" || true)"
    failed+=("$t")
  fi
  rm -rf "$scratch"
  printf '%-14s %12s %8s  %s\n' "$t" "${runs:-?}" "${cov:-?}" "$result"
  if [ "$rc" -ne 0 ]; then
    echo "  log: $log"
    for a in "$artifacts"/*; do
      [ -e "$a" ] && echo "  replay: $bin $a"
    done
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
