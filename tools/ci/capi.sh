#!/usr/bin/env bash
# The C API's test (issue 22): Examples/c linked against the STATIC libdolly of a build that exists
# already (CONFIG=debug by default: what `swift test` left behind, so CI compiles only two C files).
#  1. dolly_run --greedy prints exactly what `dolly run --greedy` prints (instruction with context, and raw);
#  2. test_capi errors: every documented error path returns its code (plus tokenizer, grammar,
#     logits, cancellation from another thread);
#  3. the same under ASan + UBSan, and 100 load -> generate -> free cycles with LeakSanitizer;
#  4. natively, cycles whose heap in use must not grow (what LeakSanitizer cannot see);
#  5. with VALGRIND=1, one cycle under Valgrind's memcheck as well (~30 s; not in CI's budget; the
#     "possibly lost" blocks it would list are the Swift runtime's metadata caches and libomp's threads).
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
CONFIG=${CONFIG:-debug}
BUILD=.build/$CONFIG
MODEL=${MODEL:-models/dolly-demo}
swift build -c "$CONFIG" --product DollyCStatic 2>&1 | tail -n 1
[ -x "$BUILD/dolly" ] || swift build -c "$CONFIG" --product dolly 2>&1 | tail -n 1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# (gold warns that it cannot export ASan's local symbols: harmless, and kept out of the log)
for sanitize in "" address,undefined; do
  if ! make -s -C Examples/c CONFIG="$CONFIG" SANITIZE="$sanitize" >"$scratch/make.log" 2>&1; then
    cat "$scratch/make.log" >&2
    exit 1
  fi
done
native=$BUILD/c-examples
sanitized=$BUILD/c-examples-address-undefined

quote=$'Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope'
compare() {  # the CLI's stdout and the C host's, byte for byte
  "$BUILD/dolly" run --model "$MODEL" "$@" >"$scratch/cli.txt"
  "$native/dolly_run" "${@:1:$#-1}" "$MODEL" "${@: -1}" >"$scratch/c.txt"
  if ! cmp -s "$scratch/cli.txt" "$scratch/c.txt"; then
    echo "capi: dolly_run differs from dolly run for: $*" >&2
    diff <(od -c "$scratch/cli.txt") <(od -c "$scratch/c.txt") >&2 || true
    exit 1
  fi
}
compare --greedy --input "$quote" "Who is quoted in this text?"
compare --greedy --raw --max-tokens 40 "Once upon a time"
echo "capi: dolly_run (static libdolly) prints what dolly run prints, byte for byte (2 prompts)"

"$native/test_capi" errors "$MODEL" "$scratch"
"$native/test_capi" cycles "$MODEL" 20
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$sanitized/test_capi" errors "$MODEL" "$scratch" | sed 's/^/[asan+ubsan] /'
"$sanitized/test_capi" cycles "$MODEL" 100 | sed 's/^/[asan+ubsan] /'
echo "capi: [asan+ubsan] 100 load -> generate -> free cycles, no leak reported"

if [ "${VALGRIND:-0}" = 1 ]; then
  # Valgrind 3.19 cannot read the toolchain's DWARF 5: a copy without debug information.
  strip --strip-debug -o "$scratch/test_capi" "$native/test_capi"
  valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=3 \
    "$scratch/test_capi" cycles "$MODEL" 1
  echo "capi: valgrind memcheck clean (no errors, nothing definitely lost)"
fi
