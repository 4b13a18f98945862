#!/usr/bin/env python3
"""How often does 8-bit block quantization, simulated in PyTorch, change transformers' greedy output?

Separates the two error sources of dolly's q8 path: weights (Q8: 32-value blocks, absmax/127, f16
scale, round to nearest) and activations (Q8A: the same blocks with an f32 scale, what the integer
kernels multiply with). If weight-only quantization already changes an answer, no activation format
can save it: the divergence is a near-tie of the model, not a kernel defect.

    tools/.venv/bin/python tools/analysis/quant_greedy_sim.py --model models/dolly-demo \
        --instructions Tests/Fixtures/demo_instructions.txt
    tools/.venv/bin/python tools/analysis/quant_greedy_sim.py --model Tests/Fixtures/tiny-bin \
        --reference Tests/Fixtures/reference.json

Prints, per configuration, how many greedy continuations equal the unquantized model's.
"""
import argparse, json, os, sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
import toolpaths  # noqa: E402,F401  (puts tools/fixtures on sys.path)
from dolly_template import generation_prompt  # noqa: E402  (tools/fixtures: upstream PROMPT_FOR_GENERATION_FORMAT)

END_ID = 50277


def blocks(x, bits, f16_scale):
    """Round x to signed `bits`-bit values in blocks of 32 along the last axis, return the dequantized copy."""
    shape = x.shape
    b = x.reshape(-1, 32)
    top = 2 ** (bits - 1) - 1
    d = b.abs().amax(1, keepdim=True) / top
    if f16_scale:
        d = d.half().float()
    q = torch.round(b / torch.where(d > 0, d, torch.ones_like(d))).clamp(-top, top)
    return (q * d).reshape(shape)


def load(path, weight_bits, act_bits):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    for _, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            if weight_bits:
                mod.weight.data = blocks(mod.weight.data, weight_bits, True)
            if act_bits:
                forward = mod.forward
                mod.forward = (lambda f: lambda x: f(blocks(x, act_bits, False)))(forward)
    if weight_bits:
        emb = model.gpt_neox.embed_in.weight
        emb.data = blocks(emb.data, weight_bits, True)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--instructions", help="one instruction per line, wrapped in Dolly's prompt template")
    ap.add_argument("--reference", help="reference.json of make_fixtures.py (its 'parallel' prompts)")
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(1)

    if args.instructions:
        tok = AutoTokenizer.from_pretrained(args.model)
        prompts = [tok(generation_prompt(line.rstrip())).input_ids
                   for line in open(args.instructions, encoding="utf-8") if line.strip()]
        n, stop = args.max_tokens, [END_ID, 0]
    else:
        refs = json.load(open(args.reference))["parallel"]["prompts"]
        prompts = [r["input_ids"] for r in refs]
        n, stop = len(refs[0]["greedy_ids"]), None

    def greedy(model):
        out = []
        for ids in prompts:
            x = torch.tensor([ids])
            y = model.generate(x, max_new_tokens=n, do_sample=False, pad_token_id=0, eos_token_id=stop)
            out.append(y[0, len(ids):].tolist())
        return out

    base = greedy(load(args.model, 0, 0))
    for name, wb, ab in [("q8 weights + q8 activations (dolly's q8 path)", 8, 8),
                         ("q8 weights, f32 activations", 8, 0),
                         ("f32 weights, q8 activations", 0, 8)]:
        got = greedy(load(args.model, wb, ab))
        diverged = [i + 1 for i, (a, b) in enumerate(zip(got, base)) if a != b]
        print(f"{name}: {len(base) - len(diverged)}/{len(base)} identical; diverging prompts {diverged}", flush=True)


if __name__ == "__main__":
    main()
