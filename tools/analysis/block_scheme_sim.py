#!/usr/bin/env python3
"""Is a block format worth building? Simulates it in numpy and scores it with dolly itself.

Quantizes and dequantizes every layer matrix of a Hugging Face checkpoint with a candidate scheme
(embeddings and output matrix through Q8, as the q4 and q3 recipes store them), writes the result as
an f32 checkpoint, converts that with `dolly convert --quant f16` and scores it with
`dolly perplexity --reference` against the original: the KL of a format that does not exist yet,
before any kernel is written (BENCHMARKS.md, "Better bits: designs simulated"). Activations are not
quantized on the f16 path, so a simulated KL sits a little below the real file's (q4: 0.001467
simulated, 0.001587 real on the yardstick); compare simulated with simulated.

The grid fit mirrors CSIMD's grid_fit_block (quant_ref.c): per block, scales from the peak over each
end level times 0.8..1.25 in 19 steps, nearest levels, weighted least-squares refit, f16 rounding.

Schemes (one per run, or per matrix role as `ROLE=SCHEME,...,DEFAULT`; roles query_key_value,
dense, dense_h_to_4h, dense_4h_to_h):
  q4n, q3n          the q4nr16 / q3nr16 grids, 32-weight blocks, f16 scale (4.5 / 3.5 bits/weight)
  q8                8-bit blocks (8.5)
  q4nsSbB, q3nsSbB  S-weight sub-blocks whose scales are B-bit integers under one f16 scale per 256
                    weights (q4ns16b6: 4.4375; q4ns32b6: 4.25; q3ns16b8s: 3.5625); a trailing `s`
                    stores the sign in the integer (for an asymmetric grid)
  q4n@N, q3n@N      N-weight blocks with an f16 scale each (q4n@16: 5 bits/weight; the bound for
                    16-weight sub-blocks)
  q4n2gC, q3n2gC    per block the better of the grid and the grid shifted by C (one more bit)
  q4npN, q3npN      the grid fit of weights perturbed by 0.2% noise (seed N): how much KL moves
                    when only the rounding of near-ties changes
  gptq-q4n, gptq-q3n  the same blocks fitted column by column with the error of each column spread over
                    the columns not yet quantized, through the inverse of the layer input's covariance
                    H = sum x x^T over the calibration text (--calib; GPTQ, Frantar et al. 2022): each
                    block's scale is fitted when the fit reaches it, on the weights as updated so far;
                    gptq-q4n/B keeps only H's diagonal blocks of B columns

    tools/.venv/bin/python tools/analysis/block_scheme_sim.py --model HF_DIR --eval Tests/Fixtures/heldout.txt \\
        --work /tmp/sim [--calib calib.txt] q4n q4ns16b6 "dense=q4n,q3n" gptq-q4n
"""
import argparse, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402
from dolly_file import G3, G4  # noqa: E402  (the grid levels, as docs/FORMAT.md section 5 gives them)

MATRICES = ("attention.query_key_value.weight", "attention.dense.weight", "mlp.dense_h_to_4h.weight",
            "mlp.dense_4h_to_h.weight")


def f16(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def nearest(v, grid):
    return np.searchsorted((grid[1:] + grid[:-1]) / 2, v, side="right")  # ties go up, as grid_nearest


def grid_fit(x, w, grid, round_scale=True):
    """x, w: (blocks, n). Per block scale and level indices, as grid_fit_block."""
    amax = np.abs(x).max(1)
    peak = x[np.arange(len(x)), np.abs(x).argmax(1)]
    sxx = (w * x * x).sum(1)
    best_err = np.full(len(x), np.inf, np.float32)
    best_d = peak / grid[-1]
    ends = [grid[-1]] if grid[0] == -grid[-1] else [grid[0], grid[-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        for end in ends:
            for s in range(19):
                d = peak / (end * (0.8 + 0.025 * s))
                q = grid[nearest(x / d[:, None], grid)]
                sxq, sqq = (w * x * q).sum(1), (w * q * q).sum(1)
                err = np.where(sqq > 0, sxx - sxq * sxq / sqq, sxx)
                better = err < best_err
                best_err = np.where(better, err, best_err)
                best_d = np.where(better, np.where(sqq > 0, sxq / sqq, d), best_d)
        best_d = np.where(amax == 0, 0, best_d)
        if round_scale:
            best_d = f16(best_d)
        idx = nearest(np.where(best_d[:, None] != 0, x / best_d[:, None], 0), grid)
    return best_d, idx


def magnitude_weights(W):
    """The converter's default weighting (CSIMD convert.c): sqrt(sigma^2 + x^2) per row."""
    return np.sqrt((W * W).mean(1, keepdims=True) + W * W)


def grid_blocks(W, wt, grid):
    d, idx = grid_fit(W.reshape(-1, 32), wt.reshape(-1, 32), grid)
    return (d[:, None] * grid[idx]).reshape(W.shape)


def sub_blocks(W, wt, grid, sub, bits, signed, span=256):
    """Sub-block scales fitted in float, stored as integers under one f16 scale per span, then the
    levels chosen again at the stored scales; per sub-block the best of the rounded integer and its two
    neighbours, per span the best of four super-scales."""
    x, w = W.reshape(-1, sub), wt.reshape(-1, sub)
    d, _ = grid_fit(x, w, grid, round_scale=False)
    per = span // sub
    ds, X, Wt = d.reshape(-1, per), x.reshape(-1, per, sub), w.reshape(-1, per, sub)
    qmax = 2 ** (bits - 1) - 1 if signed else 2 ** bits - 1
    amax = np.abs(ds).max(1)
    best_err, best = np.full(len(ds), np.inf), None
    with np.errstate(divide="ignore", invalid="ignore"):
        for f in (1.0, 0.95, 0.9, 1.05):
            D = f16(amax * f / qmax)[:, None]
            if signed:
                s = np.clip(np.round(np.where(D > 0, ds / D, 0)), -qmax - 1, qmax)
            else:  # a symmetric grid: the sign goes into the levels
                s = np.clip(np.round(np.where(D > 0, np.abs(ds) / D, 0)), 0, qmax) * np.where(ds < 0, -1, 1)
            rec, sub_err = None, None
            for step in (0, -1, 1):
                t = np.clip(s + step * np.where(s < 0, -1, 1), -qmax - 1 if signed else -qmax, qmax)
                sc = (D * t)[:, :, None]
                r = sc * grid[nearest(np.where(sc != 0, X / sc, 0), grid)]
                e = (Wt * (X - r) ** 2).sum(2)
                if rec is None:
                    rec, sub_err = r, e
                else:
                    take = e < sub_err
                    rec, sub_err = np.where(take[:, :, None], r, rec), np.where(take, e, sub_err)
            err = sub_err.sum(1)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best = rec if best is None else np.where(better[:, None, None], rec, best)
    return best.reshape(W.shape)


def two_grids(W, wt, grid, shift):
    x, w = W.reshape(-1, 32), wt.reshape(-1, 32)
    recs, errs = [], []
    for g in (grid, grid + np.float32(shift)):
        d, idx = grid_fit(x, w, g)
        recs.append(d[:, None] * g[idx])
        errs.append((w * (x - recs[-1]) ** 2).sum(1))
    return np.where((errs[1] < errs[0])[:, None], recs[1], recs[0]).reshape(W.shape)


def q8(W):
    x = W.reshape(-1, 32)
    d = f16(np.abs(x).max(1) / 127)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d[:, None] > 0, np.round(x / d[:, None]), 0)
    return (d[:, None] * q).reshape(W.shape)


def quantize(scheme, W, wt):
    grid = G4 if scheme.startswith("q4") else G3
    if scheme in ("q4n", "q3n"):
        return grid_blocks(W, wt, grid)
    if scheme[2:4] == "n@":  # blocks of another size, f16 scale each
        n = int(scheme[4:])
        d, idx = grid_fit(W.reshape(-1, n), wt.reshape(-1, n), grid)
        return (d[:, None] * grid[idx]).reshape(W.shape)
    if scheme == "q8":
        return q8(W)
    if scheme[2:4] == "ns":
        rest = scheme[4:]
        sub, bits = rest.rstrip("s").split("b")
        return sub_blocks(W, wt, grid, int(sub), int(bits), rest.endswith("s"))
    if scheme[2:4] == "n2":
        return two_grids(W, wt, grid, float(scheme[5:]))
    if scheme[2:4] == "np":
        rng = np.random.default_rng(int(scheme[4:]) * 1000 + W.shape[0] + W.shape[1])
        return grid_blocks((W * (1 + 0.002 * rng.standard_normal(W.shape))).astype(np.float32), wt, grid)
    raise SystemExit(f"unknown scheme {scheme}")


def input_covariances(model, calib, ctx):
    """H = sum over calibration tokens of x x^T for the input x of every layer matrix (float64)."""
    from transformers import AutoTokenizer, GPTNeoXForCausalLM
    net = GPTNeoXForCausalLM.from_pretrained(model, torch_dtype=torch.float32).eval()
    ids = AutoTokenizer.from_pretrained(model)(open(calib, encoding="utf-8").read(), return_tensors="pt").input_ids[0]
    H = {}

    def hook(name):
        def record(_module, inputs, _output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1]).double()
            H[name] = H.get(name, 0) + x.T @ x
        return record
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.Linear) and ".layers." in f".{name}":
            m.register_forward_hook(hook(name + ".weight"))
    with torch.no_grad():
        for i in range(0, len(ids) - ctx + 1, ctx):
            net(ids[i:i + ctx][None])
    return H


def gptq(W, H, grid, damp=0.01, band=None):
    """Columns in order; each column's rounding error, divided by the pivot of the upper Cholesky
    factor U of H^-1, is subtracted from the later columns along U's row (GPTQ's update). With band,
    H is cut to its diagonal blocks of that many columns (what a converter with less memory would keep)."""
    W = torch.from_numpy(W).double()
    cols = W.shape[1]
    H = H.clone()
    if band:
        keep = torch.arange(cols) // band
        H = torch.where(keep[:, None] == keep[None, :], H, torch.zeros_like(H))
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += damp * torch.mean(torch.diag(H)) * torch.eye(cols, dtype=H.dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    Q = torch.zeros_like(W)
    mids = (grid[1:] + grid[:-1]) / 2
    for g in range(0, cols, 32):
        block = W[:, g:g + 32].float().numpy()
        d, _ = grid_fit(block, np.ones_like(block), grid)
        d = torch.from_numpy(d.astype(np.float64))
        for j in range(g, g + 32):
            v = torch.where(d != 0, W[:, j] / d, torch.zeros_like(d)).numpy()
            Q[:, j] = d * torch.from_numpy(grid[np.searchsorted(mids, v, side="right")].astype(np.float64))
            err = (W[:, j] - Q[:, j]) / U[j, j]
            W[:, j + 1:] -= err[:, None] * U[j, j + 1:][None, :]
    return Q.float().numpy()


def scheme_for(spec, role):
    parts = spec.split(",")
    for p in parts:
        if "=" in p and p.split("=")[0] == role:
            return p.split("=")[1]
    return next(p for p in parts if "=" not in p)


def simulate(spec, model, out, covariances=None):
    state = torch.load(os.path.join(model, "pytorch_model.bin"), map_location="cpu")
    result, err, norm = {}, 0.0, 0.0
    for name, t in state.items():
        if not t.is_floating_point():
            result[name] = t
            continue
        W = t.float().numpy()
        if name.endswith(MATRICES):
            role = next(m for m in MATRICES if name.endswith(m)).split(".")[1]
            scheme = scheme_for(spec, role)
            if scheme.startswith("gptq-"):
                if covariances is None:
                    raise SystemExit("gptq schemes need --calib")
                kind, _, band = scheme.partition("/")
                R = gptq(W, covariances[name], G4 if kind == "gptq-q4n" else G3, band=int(band) if band else None)
            else:
                R = quantize(scheme, W, magnitude_weights(W))
            err, norm = err + ((W - R) ** 2).sum(), norm + (W * W).sum()
            W = R
        elif name.endswith(("embed_in.weight", "embed_out.weight")):
            W = q8(W)
        result[name] = torch.from_numpy(np.ascontiguousarray(W, np.float32))
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(model):
        if f != "pytorch_model.bin":
            shutil.copy(os.path.join(model, f), out)
    torch.save(result, os.path.join(out, "pytorch_model.bin"))
    return float(np.sqrt(err / norm))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face folder (pytorch_model.bin)")
    ap.add_argument("--eval", required=True, help="evaluation text")
    ap.add_argument("--work", required=True)
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build/release/dolly"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--calib", help="calibration text for the gptq schemes (never the evaluation text)")
    ap.add_argument("--keep", action="store_true",
                    help="keep each simulated checkpoint (WORK/SCHEME), e.g. to convert it with --quant q4 for a real file")
    ap.add_argument("schemes", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(2)
    covariances = input_covariances(a.model, a.calib, a.ctx) if a.calib else None
    print("| scheme | relative RMS error | mean KL | top-1 agreement |\n|---|---:|---:|---:|", flush=True)
    for spec in a.schemes:
        folder = Path(a.work) / spec.replace(",", "_").replace("=", "-").replace("/", "@")
        rms = simulate(spec, a.model, folder, covariances)
        dolly = f"{folder}.dolly"
        subprocess.run([a.dolly, "convert", folder, "-o", dolly, "--quant", "f16"], check=True, capture_output=True)
        out = subprocess.run([a.dolly, "perplexity", "--model", dolly, a.eval, "--context", str(a.ctx),
                              "--reference", a.model, "--kv", "f32"], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        kl = next(l for l in out.stdout.splitlines() if l.startswith("KL divergence")).split()[3]
        top = next(l for l in out.stdout.splitlines() if l.startswith("top-1")).split()[2]
        print(f"| {spec} | {rms:.5f} | {kl} | {top} |", flush=True)
        if not a.keep:
            shutil.rmtree(folder)
        os.remove(dolly)


if __name__ == "__main__":
    main()
