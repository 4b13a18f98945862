#!/usr/bin/env python3
"""4-bit quantizers compared in PyTorch: KL divergence from the unquantized model, top-1 agreement
and perplexity on a text, with llama.cpp's scoring (non-overlapping windows, second half scored).

Simulates, on the transformers model, dolly's searched q4 blocks and llama.cpp's Q4_0 rule (the
block's largest-magnitude weight maps to -8) for the layer matrices, with the embeddings at Q8 (dolly's
q4 recipe) or Q4_0 (llama.cpp's), and Q8 activations as both runtimes multiply with. It isolates the
quantizer from everything else, e.g. to compare quantizers at equal bits per weight:

    tools/.venv/bin/python tools/analysis/quant_kl_sim.py --model models/dolly-demo --text Tests/Fixtures/heldout.txt

`dolly perplexity --model FILE --reference FOLDER` measures the real files the same way.
"""
import argparse, math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def f16(d):
    return d.half().float()


def blocks(w):
    return w.reshape(-1, 32)


def q8(w):
    b = blocks(w)
    d = f16(b.abs().amax(1, keepdim=True) / 127)
    return (torch.round(b / torch.where(d > 0, d, torch.ones_like(d))).clamp(-127, 127) * d).reshape(w.shape)


def q8_activations(x):
    b = blocks(x)
    d = b.abs().amax(1, keepdim=True) / 127
    return (torch.round(b / torch.where(d > 0, d, torch.ones_like(d))).clamp(-127, 127) * d).reshape(x.shape)


def peak_of(b):
    return b.gather(1, b.abs().argmax(1, keepdim=True))


def q4_0(w):
    """llama.cpp's Q4_0: d = peak / -8, levels floor(x/d + 8.5) clamped to 0..15."""
    b = blocks(w)
    d = f16(peak_of(b) / -8)
    inv = torch.where(d != 0, 1 / d, torch.zeros_like(d))
    return ((torch.clamp(torch.floor(b * inv + 8.5), 0, 15) - 8) * d).reshape(w.shape)


def q4_searched(w):
    """dolly's q4 (CSIMD/quant_ref.c): peak to level -6 ... -8.5 or absmax/7, least-squares refit, least error."""
    b = blocks(w)
    peak = peak_of(b)

    def trial(d):
        q = torch.round(torch.clamp(b / d, -8, 7))
        sxq, sqq, sxx = (b * q).sum(1, keepdim=True), (q * q).sum(1, keepdim=True), (b * b).sum(1, keepdim=True)
        refit = torch.where(sqq > 0, sxq / sqq, d)
        return torch.where(sqq > 0, sxx - sxq * sxq / sqq, sxx), refit

    best_err, _ = trial(peak / 7)
    best_d = peak / 7
    for k in range(11):
        err, refit = trial(-peak / (6 + 0.25 * k))
        better = err < best_err
        best_err, best_d = torch.where(better, err, best_err), torch.where(better, refit, best_d)
    d = f16(best_d)
    inv = torch.where(d != 0, 1 / d, torch.zeros_like(d))
    return (torch.round(torch.clamp(b * inv, -8, 7)) * d).reshape(w.shape)


def build(path, layers=None, output=None, embedding=None):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    if layers is None:
        return model
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear):
            quant = output if name.endswith(("lm_head", "embed_out")) else layers
            mod.weight.data = quant(mod.weight.data)
            forward = mod.forward
            mod.forward = (lambda f: lambda x: f(q8_activations(x)))(forward)
    emb = model.gpt_neox.embed_in.weight
    emb.data = embedding(emb.data)
    return model


@torch.no_grad()
def log_probs(model, ids, ctx):
    for start in range(0, len(ids) - ctx + 1, ctx):
        logits = model(torch.tensor([ids[start:start + ctx]])).logits[0, ctx // 2:ctx - 1]
        yield start, torch.log_softmax(logits.double(), -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--context", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ids = AutoTokenizer.from_pretrained(args.model)(open(args.text, encoding="utf-8").read()).input_ids
    ctx = args.context
    base = list(log_probs(build(args.model), ids, ctx))
    configs = [
        ("dolly q4: searched layers, Q8 embeddings", q4_searched, q8, q8),
        ("Q4_0 layers, Q8 embeddings", q4_0, q8, q8),
        ("dolly searched layers, Q4_0 input embedding", q4_searched, q8, q4_0),
        ("llama.cpp-like: Q4_0 layers and input embedding", q4_0, q8, q4_0),
    ]
    print("| layers / embeddings | mean KL | top-1 agreement | perplexity |")
    print("|---|---:|---:|---:|")
    for name, layers, output, embedding in configs:
        print(score(name, build(args.model, layers, output, embedding), base, ids, ctx), flush=True)


def score(name, model, base, ids, ctx):
    """A table row: mean KL from the base log-probabilities, top-1 agreement, perplexity."""
    kl = agree = n = 0
    nll = 0.0
    for (start, ref), (_, got) in zip(base, log_probs(model, ids, ctx)):
        kl += (ref.exp() * (ref - got)).sum().item()
        agree += (ref.argmax(-1) == got.argmax(-1)).sum().item()
        targets = torch.tensor(ids[start + ctx // 2 + 1:start + ctx])
        nll -= got.gather(1, targets[:, None]).sum().item()
        n += ref.shape[0]
    return f"| {name} | {kl / n:.6f} | {100 * agree / n:.2f}% | {math.exp(nll / n):.3f} |"


if __name__ == "__main__":
    main()
