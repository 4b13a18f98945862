#!/usr/bin/env python3
"""Speculative decoding's speed-up computed from measured parts (issue 24), clearly not measured end to end.

Reads tools/bench/speculation_costs.sh's output (per round: the time of a target pass of k tokens,
k = 1..9, and the draft's time per token) and, for each acceptance rate a given (the rate at which a
tested guess is kept, measured on trained models), prints the expected speed-up over plain decoding for
k = 1..8 guesses per pass and the best k:

    tokens per pass  E(k) = 1 + a + a^2 + ... + a^k          (guesses kept until the first refusal, plus one)
    time per pass    T(k) = pass(k + 1 tokens) + k * draft    (draft = 0 for prompt lookup)
    speed-up         E(k) * pass(1) / T(k)

Costs are the medians over rounds of each round's figures.

    python3 tools/bench/speculation_model.py costs.txt --acceptance 0.5 0.7 0.9 [--no-draft]
"""
import argparse, collections, statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("costs")
    ap.add_argument("--acceptance", type=float, nargs="+", required=True)
    ap.add_argument("--no-draft", action="store_true", help="guesses that cost nothing to make (prompt lookup)")
    args = ap.parse_args()
    passes = collections.defaultdict(list)
    drafts = []
    for line in open(args.costs):
        f = line.split()
        if f and f[0] == "pass":
            passes[int(f[2])].append(float(f[3]))
        elif f and f[0] == "draft":
            drafts.append(float(f[3]))
    cost = {k: statistics.median(v) for k, v in passes.items()}
    draft = 0.0 if args.no_draft else statistics.median(drafts)
    print("| tokens in the pass | median ms (range) | relative to 1 |")
    print("| ---: | ---: | ---: |")
    for k in sorted(cost):
        print(f"| {k} | {cost[k]:.1f} ({min(passes[k]):.1f}-{max(passes[k]):.1f}) | {cost[k] / cost[1]:.2f} |")
    if not args.no_draft:
        print(f"\ndraft: {draft:.1f} ms per token ({min(drafts):.1f}-{max(drafts):.1f}), {draft / cost[1]:.3f} of a target pass\n")
    print("| acceptance | " + " | ".join(f"k={k}" for k in range(1, 9)) + " | best |")
    print("| ---: |" + " ---: |" * 9)
    for a in args.acceptance:
        cells = []
        for k in range(1, 9):
            if k + 1 not in cost:
                cells.append(None)
                continue
            expected = sum(a ** i for i in range(k + 1))
            cells.append(expected * cost[1] / (cost[k + 1] + k * draft))
        best = max(range(8), key=lambda i: cells[i] or 0)
        print(f"| {a:.2f} | " + " | ".join(f"{c:.2f}x" if c else "-" for c in cells) + f" | k={best + 1}: {cells[best]:.2f}x |")


if __name__ == "__main__":
    main()
