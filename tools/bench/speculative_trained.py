#!/usr/bin/env python3
"""Speculative decoding on trained models: acceptance and end-to-end generation speed (issue 24).

Runs `dolly run --greedy --verbose` on held-out instructions of the demo's data (with an `Input:` passage:
closed QA, extraction, who is quoted; and plain instructions), once per mode and prompt, modes
alternating within each round, and sums generated tokens over generation seconds per mode and round
(the draft model's own prompt pass counts: it runs inside generation). Greedy, so every mode writes the
same tokens (checked here too).

    tools/.venv/bin/python tools/bench/speculative_trained.py --target models/dolly-demo \\
        --prompts tools/demo/.demo-train/data/val_input.jsonl --n 24 --mode plain --mode lookup:4 --rounds 5
    tools/.venv/bin/python tools/bench/speculative_trained.py --target tools/demo/.demo-train/yardstick/model \\
        --mode plain --mode lookup:4 --mode draft:models/dolly-demo:4 ...

Modes: plain, lookup:N (--lookup N), draft:PATH:K (--draft PATH --draft-max K).
"""
import argparse, json, re, statistics, subprocess, sys

GEN = re.compile(r"generated: (\d+) tokens in ([0-9.]+) s")
SPEC = re.compile(r"speculation: (\d+) of (\d+) guessed tokens accepted")


def mode_flags(mode):
    if mode == "plain":
        return []
    kind, _, rest = mode.partition(":")
    if kind == "lookup":
        return ["--lookup", rest]
    if kind == "draft":
        path, _, k = rest.rpartition(":")
        return ["--draft", path, "--draft-max", k]
    sys.exit(f"unknown mode {mode}")


def run(args, mode, example):
    cmd = [args.dolly, "run", "--model", args.target, "--greedy", "--verbose", "--max-tokens", str(args.max_tokens),
           "-t", str(args.threads), *mode_flags(mode)]
    if example.get("context"):
        cmd += ["--input", example["context"]]
    cmd.append(example["instruction"])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd[:8])}...: {p.stderr.strip()}")
    g = GEN.search(p.stderr)
    s = SPEC.search(p.stderr)
    return p.stdout, int(g.group(1)), float(g.group(2)), (int(s.group(1)), int(s.group(2))) if s else (0, 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dolly", default=".build/release/dolly")
    ap.add_argument("--target", required=True)
    add_measure_arguments(ap)
    args = ap.parse_args()

    examples = load_examples(args)
    texts = {}

    def same_answer(mode, i, out):
        if texts.setdefault(i, out) != out:
            sys.exit(f"mode {mode} changed the answer to prompt {i}: {out!r} vs {texts[i]!r}")

    per_round, accept = measure(args, examples, lambda m, ex: run(args, m, ex), same_answer)
    report(args, per_round, accept, len(examples))


def add_measure_arguments(ap):
    """The prompts, modes, rounds and limits every speculation benchmark takes."""
    ap.add_argument("--prompts", required=True, help="jsonl with instruction (and context)")
    ap.add_argument("--n", type=int, default=24, help="prompts taken from the file (every k-th, spread over it)")
    ap.add_argument("--mode", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write per-round figures here")


def load_examples(args):
    """--n examples spread over the --prompts file."""
    rows = [json.loads(line) for line in open(args.prompts)]
    step = max(1, len(rows) // args.n)
    return rows[::step][:args.n]


def measure(args, examples, run_one, on_answer):
    """Every mode on every example, modes alternating within each round. run_one(mode, example) gives
    (answer, tokens, seconds, (accepted, drafted)); on_answer(mode, index, answer) checks each answer.
    Returns tok/s per mode and round, and guesses (accepted, drafted) per mode in the first round."""
    per_round = {m: [] for m in args.mode}
    accept = {m: [0, 0] for m in args.mode}
    for r in range(args.rounds):
        for m in args.mode:
            tokens, seconds = 0, 0.0
            for i, ex in enumerate(examples):
                out, n, s, (a, d) = run_one(m, ex)
                on_answer(m, i, out)
                tokens += n
                seconds += s
                if r == 0:
                    accept[m][0] += a
                    accept[m][1] += d
            per_round[m].append(tokens / seconds)
            print(f"round {r + 1} {m}: {tokens} tokens, {tokens / seconds:.1f} tok/s", file=sys.stderr, flush=True)
    return per_round, accept


def report(args, per_round, accept, n_examples):
    """The markdown table (ratios against the first mode, per round) and --json."""
    base = args.mode[0]
    print(f"| mode | median tok/s (per round) | vs {base}, per round: median (range) | guesses accepted |")
    print("| --- | ---: | ---: | ---: |")
    for m in args.mode:
        ratios = [x / y for x, y in zip(per_round[m], per_round[base])]
        a, d = accept[m]
        acc = f"{a} of {d} ({100 * a / d:.0f}%)" if d else "-"
        print(f"| {m} | {statistics.median(per_round[m]):.1f} ({', '.join(f'{x:.1f}' for x in per_round[m])}) | "
              f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | {acc} |")
    if args.json:
        json.dump({"per_round": per_round, "accepted": accept, "prompts": n_examples}, open(args.json, "w"), indent=1)

if __name__ == "__main__":
    main()
