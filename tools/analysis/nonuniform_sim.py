#!/usr/bin/env python3
"""Which 4-bit block grid to build next, by KL divergence: simulates on the transformers model the
layer matrices quantized to 32-weight blocks with one f16 scale (4.5 bits/weight) and either the
uniform levels -8..7 (dolly's q4) or a non-uniform 16-level grid, each fitted for the least squared
error weighted by an importance matrix (`dolly imatrix`'s file) or unweighted. Embeddings Q8, Q8
activations, as the runtime multiplies. The non-uniform grid is designed here, from the model's own
weights: Lloyd's algorithm (k-means in one dimension) on every block's weights divided by the block's
largest magnitude, so the levels sit where weights are dense.

    tools/.venv/bin/python tools/analysis/nonuniform_sim.py --model models/dolly-demo \\
        --text Tests/Fixtures/heldout.txt --imatrix demo.imatrix

Prints the designed grid (as int8 levels, what a byte-shuffle table holds) and a table like
quant_kl_sim.py's.
"""
import argparse, json, os, struct, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402,F401
from quant_kl_sim import blocks, build, f16, log_probs, q8, score  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

OURS = {"attention.query_key_value": "attention.qkv.weight", "attention.dense": "attention.out.weight",
        "mlp.dense_h_to_4h": "mlp.up.weight", "mlp.dense_4h_to_h": "mlp.down.weight"}


def read_imatrix(path):
    """docs/FORMAT.md section 8."""
    data = open(path, "rb").read()
    assert data[:8] == b"DLYIMTX1", "not a dolly importance matrix"
    (h,) = struct.unpack_from("<I", data, 8)
    header = json.loads(data[12:12 + h])
    at, out = 12 + h, {}
    for t in header["tensors"]:
        out[t["name"]] = torch.tensor(struct.unpack_from(f"<{t['columns']}f", data, at))
        at += 4 * t["columns"]
    return out


def lloyd_grid(weights, levels=16, iters=40):
    """16 levels in [-1, 1] minimising the squared error of block-normalised weights."""
    x = torch.cat([(blocks(w) / blocks(w).abs().amax(1, keepdim=True).clamp_min(1e-12)).flatten() for w in weights])
    x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:2_000_000]]
    grid = torch.linspace(-1, 1, levels)
    for _ in range(iters):
        idx = (x[:, None] - grid[None, :]).abs().argmin(1)
        grid = torch.stack([x[idx == k].mean() if (idx == k).any() else grid[k] for k in range(levels)])
    return grid.sort().values


def fit_grid(w, grid, imp):
    """Per block: scales d = peak / g for candidate grid ends, nearest levels, weighted least-squares refit."""
    b = blocks(w)
    wt = (imp.repeat(w.shape[0]).reshape(b.shape) if imp is not None else torch.ones_like(b))
    amax = b.abs().amax(1, keepdim=True)
    best_err = torch.full_like(amax, float("inf"))
    best_q = torch.zeros_like(b)
    best_d = torch.zeros_like(amax)
    for s in torch.linspace(0.8, 1.25, 19):
        d = amax * s / grid.abs().max()
        d = torch.where(d > 0, d, torch.ones_like(d))
        q = grid[(b[:, :, None] / d[:, :, None] - grid).abs().argmin(-1)]
        sxq, sqq = (wt * b * q).sum(1, keepdim=True), (wt * q * q).sum(1, keepdim=True)
        refit = torch.where(sqq > 0, sxq / sqq, d)
        err = (wt * (b - refit * q) ** 2).sum(1, keepdim=True)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_d = torch.where(better, refit, best_d)
        best_q = torch.where(better, q, best_q)
    return (best_q * f16(best_d)).reshape(w.shape)


def q4_uniform_weighted(w, imp):
    grid = torch.arange(-8, 8, dtype=torch.float32)
    return fit_grid(w, grid, imp)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--imatrix", help="dolly imatrix's file (else unweighted only)")
    ap.add_argument("--context", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ids = AutoTokenizer.from_pretrained(args.model)(open(args.text, encoding="utf-8").read()).input_ids
    ctx = args.context
    base_model = build(args.model)
    base = list(log_probs(base_model, ids, ctx))
    layer_weights = [m.weight.data for n, m in base_model.named_modules()
                     if isinstance(m, torch.nn.Linear) and not n.endswith(("lm_head", "embed_out"))]
    grid = lloyd_grid(layer_weights)
    print("designed grid (x127):", [round(v) for v in (grid * 127).tolist()])
    imatrix = read_imatrix(args.imatrix) if args.imatrix else None

    def per_module(fit):
        """A layer quantizer that knows which module it quantizes (for its importance)."""
        def make(model):
            for name, mod in model.named_modules():
                if isinstance(mod, torch.nn.Linear) and not name.endswith(("lm_head", "embed_out")):
                    layer = int(name.split(".")[2])
                    key = next(v for k, v in OURS.items() if name.endswith(k))
                    imp = imatrix[f"layers.{layer}.{key}"] if imatrix is not None and fit[1] else None
                    mod.weight.data = fit[0](mod.weight.data, imp)
        return make

    configs = [("uniform -8..7 (dolly q4's levels), least squares", (q4_uniform_weighted, False)),
               ("designed non-uniform grid, least squares", (lambda w, imp: fit_grid(w, grid, imp), False))]
    if imatrix is not None:
        configs += [("uniform -8..7, importance-weighted", (q4_uniform_weighted, True)),
                    ("designed non-uniform grid, importance-weighted", (lambda w, imp: fit_grid(w, grid, imp), True))]
    print("| layers (4.5 bits/weight), Q8 embeddings | mean KL | top-1 agreement | perplexity |")
    print("|---|---:|---:|---:|")
    for name, fit in configs:
        model = build(args.model, layers=lambda w: w, output=q8, embedding=q8)  # Q8 embeddings and activations
        per_module(fit)(model)
        print(score(name, model, base, ids, ctx), flush=True)


if __name__ == "__main__":
    main()
