#!/usr/bin/env bash
# The CMake package end to end: `cmake --install` of this build into a temporary prefix, then
# a project outside mpq (this folder) configured with find_package(mpq) against that prefix
# alone, built, and run on the bundled default experiment. Its op and quantizer counts must
# equal what the installed `mpq inspect` reports for the same model.
#
#   tests/cmake_consumer/run.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpq_cmake_consumer.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() {
  fails=$((fails + 1))
  echo "FAIL $1"
  [ -n "${2:-}" ] && [ -s "$2" ] && tail -n 20 "$2" | sed 's/^/     /'
}
P="$TMP/prefix"

if cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1; then
  ok "cmake --install into a temporary prefix"
else
  bad "cmake --install failed" "$TMP/install.log"
fi
missing=()
for f in bin/mpq lib/cmake/mpq/mpqConfig.cmake lib/cmake/mpq/mpqConfigVersion.cmake \
  lib/cmake/mpq/mpqTargets.cmake include/mpq/core/result.hpp include/mpq/sim/engine.hpp \
  include/mpq/search/experiment.hpp; do
  [ -e "$P/$f" ] || missing+=("$f")
done
libs=$(ls "$P"/lib/libmpq_*.a 2>/dev/null | wc -l)
[ ${#missing[@]} -eq 0 ] && [ "$libs" -ge 7 ] && ok "installed: bin/mpq, $libs libraries, headers, mpqConfig.cmake" ||
  bad "installed tree lacks: ${missing[*]} ($libs libraries)"
for t in core graph hw sim qdq phase2 search; do
  grep -q "add_library(mpq::$t " "$P/lib/cmake/mpq/mpqTargets.cmake" || bad "target mpq::$t not exported"
done

# Only the installed prefix: no path into this source or build tree may leak into the consumer.
if cmake -S "$SRC/tests/cmake_consumer" -B "$TMP/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$P" >"$TMP/configure.log" 2>&1 &&
  cmake --build "$TMP/build" -j2 >"$TMP/build.log" 2>&1; then
  ok "consumer configured with find_package(mpq) and built against mpq::search"
else
  bad "consumer did not configure or build" "$TMP/configure.log"
  [ -s "$TMP/build.log" ] && tail -n 20 "$TMP/build.log"
fi
if grep -rqs -- "$SRC/\(core\|graph\|sim\|hw\|search\)\|$BUILD" "$TMP/build/CMakeCache.txt" \
  "$TMP/build/build.ninja" "$TMP/build/CMakeFiles/mpq_consumer.dir/flags.make"; then
  bad "the consumer build refers to mpq's source or build tree"
else
  ok "the consumer build refers to the installed prefix only"
fi

EXP="$SRC/configs/experiments/default.yaml"
MODEL="$SRC/configs/models/cnn.onnx"
"$TMP/build/mpq_consumer" "$EXP" >"$TMP/consumer.out" 2>"$TMP/consumer.err" ||
  bad "the consumer failed" "$TMP/consumer.err"
count() {
  /usr/bin/python3 -c "import json,sys; print(len(json.load(sys.stdin)[sys.argv[1]]))" "$1"
}
ops=$("$P/bin/mpq" inspect "$MODEL" --json | count layers)
quantizers=$("$P/bin/mpq" inspect "$MODEL" --quantizers --json | count quantizers)
if [ -n "$ops" ] && [ "$ops" -gt 0 ] &&
  [ "$(cat "$TMP/consumer.out")" = "$(printf 'ops %s\nquantizers %s' "$ops" "$quantizers")" ]; then
  ok "consumer: $ops ops and $quantizers quantizers, as the installed mpq inspect says"
else
  bad "consumer printed '$(tr '\n' ' ' <"$TMP/consumer.out")', installed mpq inspect: $ops ops, $quantizers quantizers"
fi

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
