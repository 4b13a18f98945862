#!/usr/bin/env python3
"""Reference perplexity of the demo model, computed by transformers with llama.cpp's method
(non-overlapping windows of --context tokens, the second half of each scored), for `swift test`.

Writes Tests/Fixtures/perplexity_demo.txt (the first --windows × --context tokens of heldout.txt,
decoded; it re-encodes to the same ids) and Tests/Fixtures/perplexity_demo.json.

    tools/.venv/bin/python tools/make_perplexity_reference.py
"""
import argparse, json, math, os

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/dolly-demo"))
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--windows", type=int, default=8)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.model)
    ids = tok(open(os.path.join(ROOT, "Tests/Fixtures/heldout.txt"), encoding="utf-8").read()).input_ids
    n = args.context * args.windows
    text = tok.decode(ids[:n])
    assert tok(text).input_ids == ids[:n], "the decoded prefix does not re-encode to the same ids"
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    nll, count = 0.0, 0
    with torch.no_grad():
        for w in range(args.windows):
            window = ids[w * args.context:(w + 1) * args.context]
            lp = torch.log_softmax(model(torch.tensor([window])).logits[0].double(), -1)
            for j in range(args.context // 2, args.context - 1):
                nll -= lp[j, window[j + 1]].item()
                count += 1
    out = os.path.join(ROOT, "Tests/Fixtures/perplexity_demo")
    open(out + ".txt", "w", encoding="utf-8").write(text)
    json.dump({"model": "models/dolly-demo", "text": "perplexity_demo.txt", "context": args.context,
               "windows": args.windows, "scored_tokens": count, "perplexity": math.exp(nll / count)},
              open(out + ".json", "w"), indent=1)
    print(out + ".json", math.exp(nll / count))


if __name__ == "__main__":
    main()
