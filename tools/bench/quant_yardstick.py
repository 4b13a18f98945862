#!/usr/bin/env python3
"""Quality per byte of dolly's block types against llama.cpp's, by KL divergence from the unquantized
model (BENCHMARKS.md "Better bits"): both runtimes score the same evaluation text in windows of the same
length against their own unquantized run of the same checkpoint, with embeddings held at 8 bits on both
sides, so the layer-matrix quantizers are what differs.

  llama.cpp: convert_hf_to_gguf.py --outtype f16; llama-imatrix on the calibration text;
             llama-quantize [--imatrix] --token-embedding-type q8_0 --output-tensor-type q8_0 per type;
             llama-perplexity --kl-divergence-base (f16), then --kl-divergence per file.
  dolly:     dolly imatrix [--diagonal] on the same calibration text; dolly convert --quant R [--imatrix] per recipe;
             dolly perplexity --reference HF_DIR --kv f32.

Every artefact is cached in --work (delete a file to redo its step). Prints a markdown table: layer
bits/weight, file size, mean KL, top-1 agreement, and each row's KL over the best llama.cpp type's at
no more bits.

    tools/.venv/bin/python tools/bench/quant_yardstick.py \\
        --model tools/demo/.demo-train/yardstick/model --calib calib.txt --eval Tests/Fixtures/heldout.txt \\
        --dolly .build/release/dolly --llama-bin LLAMA/build/bin --llama-src LLAMA --work /tmp/ys --ctx 256

Calibration text must not be the evaluation text.
"""
import argparse, os, re, subprocess, sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_llamacpp import CONVERT_SHIM  # noqa: E402

LLAMA_TYPES = [("Q4_0", False), ("Q4_0", True), ("Q4_K_S", True), ("Q4_K_M", True), ("IQ4_NL", True),
               ("IQ4_XS", True), ("Q3_K_S", True), ("IQ3_S", True)]
# recipe, extra convert flags, label
DOLLY_ROWS = [("q4-uniform", [], "q4-uniform (format 1.0), magnitude-weighted"),
              ("q4-uniform", ["IMATRIX"], "q4-uniform + importance matrix"),
              ("q4", ["--weighting", "uniform"], "q4 grid, least squares"),
              ("q4", [], "q4 grid, magnitude-weighted (default)"),
              ("q4", ["IMATRIX"], "q4 grid + importance matrix (diagonal)"),
              ("q4", ["COVARIANCE"], "q4 grid + imatrix with covariance (GPTQ)"),
              ("q3", ["--weighting", "uniform"], "q3 grid, least squares"),
              ("q3", [], "q3 grid, magnitude-weighted (default)"),
              ("q3", ["IMATRIX"], "q3 grid + importance matrix (diagonal)"),
              ("q3", ["COVARIANCE"], "q3 grid + imatrix with covariance (GPTQ)")]


def run(cmd, log=None, **kw):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr)
    out = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if log:
        Path(log).write_text(out.stdout)
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(map(str, cmd))}\n{out.stdout[-2000:]}")
    return out.stdout


def layer_bits_gguf(path, llama_src):
    sys.path.insert(0, str(Path(llama_src) / "gguf-py"))
    import gguf  # noqa: E402
    r = gguf.GGUFReader(str(path))
    bits = count = 0
    for t in r.tensors:
        if t.name.startswith("blk.") and len(t.shape) == 2:
            bits += int(t.n_bytes) * 8
            count += int(t.n_elements)
    return bits / count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face folder of the yardstick model")
    ap.add_argument("--calib", required=True, help="calibration text (never the evaluation text)")
    ap.add_argument("--eval", required=True, help="evaluation text")
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build/release/dolly"))
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--llama-src", required=True, help="llama.cpp source (convert_hf_to_gguf.py, gguf-py)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    work, B = Path(a.work), Path(a.llama_bin)
    work.mkdir(parents=True, exist_ok=True)
    if Path(a.calib).resolve() == Path(a.eval).resolve():
        sys.exit("the calibration text must not be the evaluation text")
    t = str(a.threads)

    # llama.cpp
    f16 = work / "f16.gguf"
    if not f16.exists():
        run([a.python, "-c", CONVERT_SHIM, Path(a.llama_src) / "convert_hf_to_gguf.py", a.model, "--outtype", "f16",
             "--outfile", f16], log=work / "conv.log")
    imat = work / "imatrix.gguf"
    if not imat.exists():
        run([B / "llama-imatrix", "-m", f16, "-f", a.calib, "-c", a.ctx, "-t", t, "-o", imat], log=work / "imatrix.log")
    base = work / "base.kld"
    if not base.exists():
        run([B / "llama-perplexity", "-m", f16, "-f", a.eval, "-c", a.ctx, "-t", t, "--kl-divergence-base", base],
            log=work / "base.log")
    rows = []
    for typ, with_imat in LLAMA_TYPES:
        tag = f"{typ}-{'imat' if with_imat else 'none'}"
        out = work / f"{tag}.gguf"
        if not out.exists():
            run([B / "llama-quantize", *(["--imatrix", imat] if with_imat else []), "--token-embedding-type", "q8_0",
                 "--output-tensor-type", "q8_0", f16, out, typ], log=work / f"q-{tag}.log")
        log = work / f"kl-{tag}.log"
        if not log.exists():
            run([B / "llama-perplexity", "-m", out, "-f", a.eval, "-c", a.ctx, "-t", t, "--kl-divergence-base", base,
                 "--kl-divergence"], log=log)
        text = log.read_text()
        kl = re.search(r"Mean\s+KLD:\s+([\d.]+)\s+±\s+([\d.]+)", text)
        top = re.search(r"Same top p:\s+([\d.]+)", text)
        rows.append((f"llama.cpp {typ}" + (" + imatrix" if with_imat else ""), layer_bits_gguf(out, a.llama_src),
                     out.stat().st_size, float(kl[1]), float(kl[2]), float(top[1])))

    # dolly
    dimat, dcov = work / "dolly.imatrix", work / "dolly-covariance.imatrix"
    if not dimat.exists():
        run([a.dolly, "imatrix", "--model", a.model, a.calib, "-o", dimat, "--context", a.ctx, "--diagonal", "-t", t])
    if not dcov.exists():
        run([a.dolly, "imatrix", "--model", a.model, a.calib, "-o", dcov, "--context", a.ctx, "-t", t])
    for recipe, flags, label in DOLLY_ROWS:
        flags = [x for f in flags for x in ({"IMATRIX": ["--imatrix", dimat], "COVARIANCE": ["--imatrix", dcov]}.get(f, [f]))]
        name = f"dolly-{recipe}-" + ("-".join(str(f).replace("--", "").replace(str(dimat), "im").replace(str(dcov), "cov")
                                              for f in flags) or "default")
        out = work / f"{name}.dolly"
        if not out.exists():
            run([a.dolly, "convert", a.model, "-o", out, "--quant", recipe, "-t", t, *flags])
        log = work / f"kl-{name}.log"
        if not log.exists():
            run([a.dolly, "perplexity", "--model", out, a.eval, "--context", a.ctx, "--reference", a.model, "--kv", "f32",
                 "-t", t], log=log)
        text = log.read_text()
        kl = re.search(r"KL divergence: mean ([\d.]+) \+/- ([\d.]+)", text)
        top = re.search(r"top-1 agreement: ([\d.]+)%", text)
        bits = float(re.search(r"layer matrices ([\d.]+)", run([a.dolly, "inspect", out]))[1])
        rows.append((f"dolly {label}", bits, out.stat().st_size, float(kl[1]), float(kl[2]), float(top[1])))

    llama = [r for r in rows if r[0].startswith("llama.cpp")]
    print("| layer matrices | layer bits/weight | file (MB) | mean KL | top-1 | KL / best llama.cpp at ≤ bits |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, bits, size, kl, err, top in rows:
        fits = [r[3] for r in llama if r[1] <= bits + 1e-9 and "imatrix" in r[0]]
        ratio = f"{kl / min(fits):.2f}" if fits else "—"
        print(f"| {name} | {bits:.3f} | {size / 1e6:.1f} | {kl:.6f} ± {err:.6f} | {top:.2f}% | {ratio} |")


if __name__ == "__main__":
    main()
