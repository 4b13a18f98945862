#!/usr/bin/env bash
# Fault injection for the promise "nothing lost, ever" (issue 29), on the demo model:
#  1. outputs that are an input, lie inside the checkpoint, or are foreign files are refused (inputs
#     byte-identical afterwards; --force replaces a foreign file);
#  2. kill -9 at 10 moments of a conversion leaves nothing in the output folder (O_TMPFILE), and on
#     the fallback path (DOLLY_NO_TMPFILE=1) only what the next run removes, that run checked too;
#  3. SIGTERM / SIGHUP during convert and imatrix: one line, exit 128 + signal, nothing left;
#  4. a full disk (a small tmpfs; skipped when mounting is not allowed) leaves nothing and an existing
#     good output untouched;
#  5. `dolly serve` keeps answering when its file is truncated, rewritten with cp, or replaced by
#     rename; with --mmap it keeps answering after a rename, and a truncation stops it with one line
#     naming the file and exit status 1 (no bare "Bus error").
# Usage: tools/ci/file_safety.sh [path/to/dolly]   (default .build/debug/dolly; build it first)
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
dolly=$(realpath "${1:-.build/debug/dolly}")
demo=$(realpath models/dolly-demo)
work=$(mktemp -d /tmp/dolly-file-safety.XXXXXX)
mnt=""
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
empty_dir() { [ -z "$(ls -A "$1")" ] || fail "$2: left $(ls -A "$1" | tr '\n' ' ')"; }
sums() { (cd "$1" && sha256sum -- * | sha256sum); }
start=$(date +%s)

# ---- 1. never onto an input, into the checkpoint, or over a foreign file ----
demo_sum=$(sums "$demo")
expect_refusal() {  # expect_refusal WHAT FRAGMENT -- dolly args...
  local what=$1 fragment=$2; shift 3
  if "$dolly" "$@" >"$work/stdout" 2>"$work/err"; then fail "$what: accepted"; fi
  grep -q -- "$fragment" "$work/err" || fail "$what: $(cat "$work/err")"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$what: more than one line: $(cat "$work/err")"
}
expect_refusal "output = input" "it is the input" -- convert "$demo" -o "$demo/pytorch_model.bin" --quant q8
expect_refusal "output in the checkpoint" "inside the input folder" -- convert "$demo" -o "$demo/m.dolly" --quant q8
expect_refusal "output in the checkpoint (config.json)" "it is the input" -- convert "$demo" -o "$demo/config.json" --quant q8
ln -s "$demo/pytorch_model.bin" "$work/link.dolly"
expect_refusal "output = link to the input" "it is the input" -- convert "$demo" -o "$work/link.dolly" --quant q8
if ln "$demo/tokenizer.json" "$work/hard.dolly" 2>/dev/null; then
  expect_refusal "output = hard link to an input" "it is the input" -- convert "$demo" -o "$work/hard.dolly" --quant q8 --force
fi
echo "my notes" >"$work/notes.txt"
expect_refusal "foreign output" "--force replaces it" -- convert "$demo" -o "$work/notes.txt" --quant q8
[ "$(cat "$work/notes.txt")" = "my notes" ] || fail "foreign output changed"
"$dolly" convert "$demo" -o "$work/notes.txt" --quant q8 --force 2>/dev/null || fail "--force"
"$dolly" inspect "$work/notes.txt" >/dev/null || fail "--force wrote a bad file"
cp Tests/Fixtures/imatrix_calibration.txt "$work/calib.txt"
expect_refusal "imatrix output = its text" "it is the input" -- imatrix --model "$demo" "$work/calib.txt" -o "$work/calib.txt"
expect_refusal "imatrix output = a model" "is not an importance matrix" -- imatrix --model "$demo" "$work/calib.txt" -o "$work/notes.txt"
[ "$(sums "$demo")" = "$demo_sum" ] || fail "the checkpoint changed"
ok "outputs that are inputs, inside the checkpoint or foreign are refused; the checkpoint is byte-identical"

# ---- 2. kill -9 at 10 moments ----
mkdir "$work/out"
t0=$(date +%s%N)
"$dolly" convert "$demo" -o "$work/good.dolly" --quant q4 -t 1 2>/dev/null
span=$(( ($(date +%s%N) - t0) / 1000000 ))   # ms for one conversion
landed=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  "$dolly" convert "$demo" -o "$work/out/m.dolly" --quant q4 -t 1 2>/dev/null &
  pid=$!
  # Moments spread over the first two thirds of the measured time: a later conversion may run faster
  # than the measured one (warm caches, a quieter machine), and a kill after its end tests nothing.
  sleep "$(awk -v s="$span" -v i="$i" 'BEGIN { printf "%.3f", s * i / 15 / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true
  status=0; wait "$pid" 2>/dev/null || status=$?
  [ "$status" -eq 137 ] && landed=$((landed + 1))   # else it had finished (status 0) before the kill
  if [ -e "$work/out/m.dolly" ]; then
    "$dolly" inspect --verify "$work/out/m.dolly" >/dev/null 2>&1 || fail "kill -9 #$i left a bad m.dolly"
    rm "$work/out/m.dolly"     # finished before the kill: complete, and removed for the next round
  fi
  empty_dir "$work/out" "kill -9 #$i"
done
[ "$landed" -ge 8 ] || fail "only $landed of 10 kills landed during the conversion (${span} ms)"
ok "kill -9 at 10 moments of a ${span} ms conversion ($landed mid-run): nothing left (O_TMPFILE)"

# The fallback (no O_TMPFILE): the debris is named .m.dolly.tmp-PID and the next run removes it.
for i in 3 6 9; do
  DOLLY_NO_TMPFILE=1 "$dolly" convert "$demo" -o "$work/out/m.dolly" --quant q4 -t 1 2>/dev/null &
  pid=$!
  # Kill while its named temporary exists (a kill timed from the first run's span alone could land
  # before the file is made, leaving nothing for the next run to report).
  for _ in $(seq 1 1000); do [ -e "$work/out/.m.dolly.tmp-$pid" ] && break; sleep 0.005; done
  sleep "$(awk -v s="$span" -v i="$i" 'BEGIN { printf "%.3f", s * i / 11 / 1000 / 4 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
[ -n "$(ls -A "$work/out" | grep '^\.m\.dolly\.tmp-')" ] || fail "fallback: no debris to test with (the kills came too late)"
DOLLY_NO_TMPFILE=1 "$dolly" convert "$demo" -o "$work/out/m.dolly" --quant q4 -t 1 2>"$work/err" || fail "run after kills: $(cat "$work/err")"
if ls -A "$work/out" | grep -q '^\.'; then fail "fallback: the next run left $(ls -A "$work/out" | tr '\n' ' ')"; fi
[ "$(ls -A "$work/out")" = "m.dolly" ] || fail "fallback: $(ls -A "$work/out")"
removed=$(grep -c "^dolly: removed .*/\.m\.dolly\.tmp-" "$work/err" || true)
"$dolly" inspect --verify "$work/out/m.dolly" >/dev/null 2>&1 || fail "fallback: bad output"
# Each killed run's writer already removed its predecessors' debris; the last one's is the next run's to report.
[ "$removed" -ge 1 ] || fail "fallback: the next run reported no removal: $(cat "$work/err")"
ok "fallback path (DOLLY_NO_TMPFILE=1): 3 kill -9, the next run removed and reported the debris, left only m.dolly"
rm -f "$work/out/m.dolly"

# ---- 3. SIGTERM and SIGHUP while writing ----
# The signal goes once the progress lines (one per 10%) show the job well under way.
signal_when() {  # signal_when SIG PATTERN: waits for PATTERN in $work/err, then signals $pid
  for _ in $(seq 1 1000); do grep -q -- "$2" "$work/err" 2>/dev/null && break; sleep 0.005; done
  kill -s "$1" "$pid"
  status=0; wait "$pid" || status=$?
}
for sig in TERM HUP; do
  "$dolly" convert "$demo" -o "$work/out/m.dolly" --quant q4 -t 1 2>"$work/err" &
  pid=$!
  signal_when "$sig" "% .* convert$"
  [ "$status" -eq $(( 128 + $(kill -l "$sig") )) ] || fail "convert SIG$sig: status $status: $(cat "$work/err")"
  grep -q "^dolly: interrupted by SIG$sig: nothing written" "$work/err" || fail "convert SIG$sig: $(cat "$work/err")"
  empty_dir "$work/out" "convert SIG$sig"
done
"$dolly" imatrix --model "$demo" Tests/Fixtures/heldout.txt -o "$work/out/m.imatrix" --context 64 --chunks 100 -t 1 2>"$work/err" &
pid=$!
signal_when TERM "^imatrix  *[1-9][0-9]\\.[0-9]%"
[ "$status" -eq 143 ] || fail "imatrix SIGTERM: status $status: $(cat "$work/err")"
grep -q "^dolly: interrupted by SIGTERM: nothing written" "$work/err" || fail "imatrix SIGTERM: $(cat "$work/err")"
empty_dir "$work/out" "imatrix SIGTERM"
ok "SIGTERM/SIGHUP during convert and SIGTERM during imatrix: one line, exit 128 + signal, nothing left"

# ---- 4. a full disk ----
mnt="$work/small"
mkdir "$mnt"
size=$(stat -c %s "$work/good.dolly")
if mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
  if "$dolly" convert "$demo" -o "$mnt/m.dolly" --quant q4 2>"$work/err"; then fail "full disk: accepted"; fi
  grep -q "No space left on device" "$work/err" || fail "full disk: $(cat "$work/err")"
  empty_dir "$mnt" "full disk"
  [ "$(df --output=used -k "$mnt" | tail -1 | tr -d ' ')" -lt 64 ] || fail "full disk: space still used"
  umount "$mnt"
  # Room for the good file and a little more, not for a second copy: the good one must survive.
  mount -t tmpfs -o size=$(( size / 1024 + 512 ))k tmpfs "$mnt"
  cp "$work/good.dolly" "$mnt/m.dolly"
  if "$dolly" convert "$demo" -o "$mnt/m.dolly" --quant q8 2>"$work/err"; then fail "full disk over a good file: accepted"; fi
  cmp -s "$work/good.dolly" "$mnt/m.dolly" || fail "full disk: the existing good output changed"
  [ "$(ls -A "$mnt")" = "m.dolly" ] || fail "full disk: left $(ls -A "$mnt")"
  umount "$mnt"
  ok "full disk (tmpfs): nothing left, space given back, an existing good output untouched"
else
  echo "WARNING: cannot mount a tmpfs here (not root?); the full-disk case is skipped"
fi
mnt=""

# ---- 5. the server and its file ----
request() {  # prints the completion's text, or fails
  curl -s -m 30 "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "The capital of France", "max_tokens": 8, "temperature": 0}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["choices"][0]["text"])'
}
serve() {  # serve FILE [flags]: starts the server, sets $server and $port
  "$dolly" serve --model "$@" --port 0 -t 1 --parallel 1 2>"$work/serve.err" &
  server=$!
  for _ in $(seq 1 300); do
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve.err")
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return
    sleep 0.1
  done
  fail "serve did not start: $(cat "$work/serve.err")"
}
mkdir "$work/srv"
cp "$work/good.dolly" "$work/srv/m.dolly"
"$dolly" convert "$demo" -o "$work/q8.dolly" --quant q8 2>/dev/null
serve "$work/srv/m.dolly"
first=$(request) || fail "serve: no answer"
truncate -s 0 "$work/srv/m.dolly"
[ "$(request)" = "$first" ] || fail "serve: answer changed after truncation"
cp "$work/q8.dolly" "$work/srv/m.dolly"       # truncates, then writes another model in place
[ "$(request)" = "$first" ] || fail "serve: answer changed after cp over the file"
cp "$work/q8.dolly" "$work/srv/.next" && mv "$work/srv/.next" "$work/srv/m.dolly"
[ "$(request)" = "$first" ] || fail "serve: answer changed after rename"
kill -TERM "$server"; status=0; wait "$server" || status=$?; server=""
[ "$status" -eq 0 ] || fail "serve did not stop cleanly: $status"
ok "serve (default, model in memory): answers unchanged after truncate, cp over the file and rename"

# --mmap: a rename is safe (the old file stays mapped until the server stops); a truncation is not.
cp "$work/good.dolly" "$work/srv/m.dolly"
serve "$work/srv/m.dolly" --mmap
[ "$(request)" = "$first" ] || fail "serve --mmap: another answer"
cp "$work/q8.dolly" "$work/srv/.next" && mv "$work/srv/.next" "$work/srv/m.dolly"
[ "$(request)" = "$first" ] || fail "serve --mmap: answer changed after rename"
kill -TERM "$server"; status=0; wait "$server" || status=$?; server=""
[ "$status" -eq 0 ] || fail "serve --mmap did not stop cleanly: $status"
cp "$work/good.dolly" "$work/srv/m.dolly"
serve "$work/srv/m.dolly" --mmap
[ "$(request)" = "$first" ] || fail "serve --mmap: another answer"
truncate -s 4096 "$work/srv/m.dolly"
if answer=$(request 2>/dev/null); then fail "serve --mmap: answered from a truncated file: $answer"; fi
status=0; wait "$server" || status=$?; server=""
[ "$status" -eq 1 ] || fail "serve --mmap: exit status $status after truncation"
grep -q "^dolly: error: .*m.dolly changed on disk" "$work/serve.err" || fail "serve --mmap: $(cat "$work/serve.err")"
if grep -q -i "bus error\|crashed" "$work/serve.err"; then fail "serve --mmap: a bare crash: $(cat "$work/serve.err")"; fi
[ "$(grep -c "changed on disk" "$work/serve.err")" -eq 1 ] || fail "serve --mmap: not one line: $(cat "$work/serve.err")"
echo "   serve --mmap said: $(grep "changed on disk" "$work/serve.err")"
ok "serve --mmap: a truncation ends the server with one line naming the file and status 1, no answer sent"

echo "file safety: all checks passed in $(( $(date +%s) - start )) s"
