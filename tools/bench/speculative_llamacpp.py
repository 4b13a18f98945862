#!/usr/bin/env python3
"""llama.cpp's speculative decoding on the same trained models and prompts as speculative_trained.py (issue 24).

Runs llama.cpp's `llama-lookup` (prompt lookup; with --draft-max 0 it decodes one token per pass: the plain
baseline, same program) and `llama-speculative` (a draft model) on held-out instructions of the demo's data,
one process per prompt and mode, modes alternating within each round, greedy (--temp 0), and sums decoded
tokens over decoding seconds ("decoded N tokens in S seconds", prompt pass excluded) per mode and round.
Prompts are Dolly's generation prompt spelled from upstream (tools/fixtures/dolly_template.py), tokenized
by llama.cpp with special tokens parsed, and `### End` is made end-of-generation
(--override-kv tokenizer.ggml.eos_token_id=int:50277) so answers stop where dolly's do.

    tools/.venv/bin/python tools/bench/speculative_llamacpp.py --bin LLAMA_BIN --target yardstick-f16.gguf \\
        --draft demo-f16.gguf --prompts tools/demo/.demo-train/data/val.jsonl --n 24 \\
        --mode plain --mode lookup:4 --mode draft:4 --rounds 5

Modes: plain (llama-lookup --draft-max 0), lookup:N (llama-lookup --draft-max N), draft:K (llama-speculative -md
DRAFT --draft-max K --draft-min 0).
"""
import argparse, os, re, subprocess, sys

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))
sys.path.insert(0, HERE)
from dolly_template import generation_prompt  # noqa: E402
from speculative_trained import add_measure_arguments, load_examples, measure, report  # noqa: E402

DECODED = re.compile(r"decoded\s+(\d+) tokens in\s+([0-9.]+) seconds")
DRAFTED = re.compile(r"n_drafted\s*=\s*(\d+)")
ACCEPTED = re.compile(r"n_accept\s*=\s*(\d+)")
END_IS_EOG = ["--override-kv", "tokenizer.ggml.eos_token_id=int:50277"]


def command(args, mode, prompt):
    common = ["-p", prompt, "-n", str(args.max_tokens), "-t", str(args.threads), "--temp", "0", "-c", "2048",
              "--seed", "1", *END_IS_EOG]
    kind, _, k = mode.partition(":")
    if kind == "plain":
        return [os.path.join(args.bin, "llama-lookup"), "-m", args.target, "--draft-max", "0", *common]
    if kind == "lookup":
        return [os.path.join(args.bin, "llama-lookup"), "-m", args.target, "--draft-max", k, *common]
    if kind == "draft":
        return [os.path.join(args.bin, "llama-speculative"), "-m", args.target, "-md", args.draft, "--draft-max", k,
                "--draft-min", "0", "-td", str(args.threads), *common]
    sys.exit(f"unknown mode {mode}")


def run(args, mode, example):
    cmd = command(args, mode, generation_prompt(example["instruction"], example.get("context") or None))
    p = subprocess.run(cmd, capture_output=True, text=True)
    log = p.stdout + p.stderr
    d = DECODED.search(log)
    if p.returncode != 0 or not d:
        sys.exit(f"{' '.join(cmd[:6])}...: exit {p.returncode}: {log[-2000:]}")
    drafted, accepted = DRAFTED.search(log), ACCEPTED.search(log)
    n = int(d.group(1))
    return n, n, float(d.group(2)), (int(accepted.group(1)) if accepted else 0, int(drafted.group(1)) if drafted else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="llama.cpp's build/bin (llama-lookup, llama-speculative)")
    ap.add_argument("--target", required=True, help="GGUF of the target model")
    ap.add_argument("--draft", help="GGUF of the draft model (draft:K modes)")
    add_measure_arguments(ap)
    args = ap.parse_args()

    examples = load_examples(args)
    lengths = {}  # the answer's token count stands for the answer: llama.cpp's text is not compared
    per_round, accept = measure(args, examples, lambda m, ex: run(args, m, ex),
                                lambda m, i, n: lengths.setdefault((m, i), n))
    report(args, per_round, accept, len(examples))
    base = args.mode[0]
    same = sum(lengths[(m, i)] == lengths[(base, i)] for m in args.mode for i in range(len(examples)))
    print(f"\nanswer lengths equal to {base}'s: {same} of {len(args.mode) * len(examples)}")

if __name__ == "__main__":
    main()
