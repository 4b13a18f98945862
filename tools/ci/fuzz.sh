#!/usr/bin/env bash
# Fuzzes every reader of untrusted bytes with libFuzzer (Sources/dolly-fuzz).
#   tools/ci/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 30 s, all targets)
# Seeds come from the committed fixtures; the corpus grows in .fuzz-corpus/<target> (git-ignored).
# Any crash, leak or timeout fails the run and leaves its input as .fuzz-corpus/crash-*; replay it
# with `swift run dolly-fuzz FILE` (with DOLLY_FUZZ_TARGET set) and add it to the regression tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || echo "$here/../..")"  # the repository root
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pickle bin safetensors config tokenizer-json dolly-file tokenize imatrix gbnf json-schema)

swift build --product dolly-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path .build-fuzz >/dev/null
bin=.build-fuzz/debug/dolly-fuzz
root=.fuzz-corpus
mkdir -p "$root"

seed() {  # seed TARGET FILE...
    local dir="$root/$1"; shift
    mkdir -p "$dir"
    for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/seed-$(echo "$f" | tr '/' '_')"; done
}
bins=(Tests/Fixtures/checkpoint/*/pytorch_model.bin Tests/Fixtures/checkpoint/bad/*.bin)
seed bin "${bins[@]}"
mkdir -p "$root/pickle"
for f in "${bins[@]}"; do unzip -p "$f" '*/data.pkl' > "$root/pickle/seed-$(echo "$f" | tr '/' '_').pkl" 2>/dev/null || true; done
seed safetensors Tests/Fixtures/checkpoint/*/model*.safetensors
seed config Tests/Fixtures/tiny-*/config.json models/dolly-demo/config.json
mkdir -p "$root/tokenizer-json"
cat > "$root/tokenizer-json/seed-mini.json" <<'JSON'
{"version":"1.0","added_tokens":[{"id":5,"content":"### End","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,
"vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġab":4},"merges":["a b","Ġ ab"]}}
JSON
mkdir -p "$root/dolly-file"
printf 'DOLLYFMT\x01\x00\x00\x00\x00\x00\x00\x00' > "$root/dolly-file/seed-magic"
seed dolly-file Tests/Fixtures/fuzz/tiny-q4.dolly   # a whole 1-layer model, 13 KB
seed imatrix Tests/Fixtures/fuzz/tiny-v2.imatrix   # one 32-column tensor with its covariance band, 4.4 KB
mkdir -p "$root/tokenize"
head -c 2000 README.md > "$root/tokenize/seed-readme"
head -c 2000 Tests/Fixtures/heldout.txt > "$root/tokenize/seed-heldout"
printf 'Below is an instruction.\n\n### Instruction:\nhi   there\n\nInput:\nctx\n\n### Response:\n\xe2\x82\xac\xf0\x9f\x99\x82\n\n### End' > "$root/tokenize/seed-dolly"

mkdir -p "$root/gbnf" "$root/json-schema"
cat > "$root/gbnf/seed-constructs" <<'GBNF'
# every construct of the documented subset
root ::= greeting (" " name){1,3} [.!]? tail*
greeting ::= "hi" | "h\x65llo\u00e9\n\t\"" | [^a-z\]]+
name ::= ([A-Z] [a-z]{0,8}) | . "x"{2,}
tail ::= ("é" | [\u4e00-\u9fff] | "\U0001F600")?
GBNF
cat > "$root/json-schema/seed-person" <<'JSON'
{"$defs": {"pet": {"type": "object", "properties": {"kind": {"enum": ["cat", "dog"]}, "age": {"type": "number"}}, "required": ["kind"]}},
 "type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "pets": {"type": "array", "items": {"$ref": "#/$defs/pet"}, "maxItems": 3},
 "id": {"anyOf": [{"type": "integer"}, {"type": "null"}]}, "flag": {"const": true}, "extra": {"type": "object", "additionalProperties": {"type": "boolean"}}},
 "required": ["name", "pets"], "additionalProperties": false}
JSON
cat > "$root/json-schema/seed-patterns" <<'JSON'
{"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}(x|\\.[a-z\"]+)?$"},
 "mail": {"type": "string", "pattern": "\\w+@(?:\\w+\\.)+(com|org)"}, "day": {"type": "string", "format": "date"},
 "at": {"type": "string", "format": "date-time"}, "id": {"type": "string", "format": "uuid"}, "s": {"type": "string", "pattern": "[^\\s]\\S*\\D\\W.{0,3}"}},
 "required": ["sku", "mail"]}
JSON

status=0
passed=0
failed=0
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    if ! DOLLY_FUZZ_TARGET=$t DOLLY_FUZZ_TOKENIZER=Tests/Fixtures/tokenizer.json "$bin" "$root/$t" \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$root/crash-$t-" \
        -print_final_stats=1 > "$root/$t.log" 2>&1; then
        echo "fuzz $t: FAILED (see $root/$t.log)"; grep -E "ERROR|SUMMARY|crashed|at /.*Sources" "$root/$t.log" | head -5 || true; status=1
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
        grep -E "stat::number_of_executed_units|DONE" "$root/$t.log" | tail -2 | tr '\n' ' '; echo
    fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
