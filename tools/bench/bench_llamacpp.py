#!/usr/bin/env python3
"""Side-by-side benchmark of dolly against llama.cpp on the same Dolly v2 checkpoint.

What it does, for each quantization (Q4_0 <-> dolly q4, Q8_0 <-> dolly q8):

  1. converts the Hugging Face folder with llama.cpp's own route
     (convert_hf_to_gguf.py --outtype f16, then llama-quantize), cached in --work;
  2. converts it with `dolly convert DIR -o OUT.dolly --quant q4|q8`, cached in --work;
  3. runs `llama-bench -r 1 -o json` and `dolly bench -r 1 -o json` alternately,
     --rounds times each, with the same threads, prompt and generation lengths,
     each under /usr/bin/time -v for its peak RSS;
  4. prints a markdown section (CPU, date, commands, one table per quant with the
     median pp/tg tok/s of both runtimes, the dolly/llama.cpp ratios, file sizes
     and peak RSS), and appends it to --append FILE if given.

With --perplexity FILE.txt --ctx N it also runs `llama-perplexity -f FILE -c N`
and `dolly perplexity FILE --context N` on each pair of files and reports both
final perplexities.

The dolly half is optional: when --dolly is missing, or its `bench` or
`convert` fails, the llama.cpp half still runs and the dolly cells say why.

Example (llama.cpp built from llama-cpp-python's vendored sources):

    tools/.venv/bin/python tools/bench/bench_llamacpp.py \\
        --hf /work/scratch/dolly-3b-shaped \\
        --dolly .build/release/dolly \\
        --llama-bin /work/scratch/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp/build/bin \\
        --threads 2 -p 512 -n 128 -r 5 --append BENCHMARKS.md

The Python that runs this script also runs convert_hf_to_gguf.py (it needs torch,
transformers, numpy, sentencepiece; the vendored gguf-py is used); pass
--python to use another interpreter.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

QUANTS = {
    # our name: (llama.cpp type, dolly --quant)
    "q4": ("Q4_0", "q4"),
    "q8": ("Q8_0", "q8"),
}

# convert_hf_to_gguf.py reads the config through transformers' AutoConfig. From
# transformers 5 on, GPT-NeoX's `rotary_pct` is folded into
# rope_parameters["partial_rotary_factor"] and the key is gone, so llama.cpp's
# GPTNeoXModel.set_gguf_parameters dies with KeyError: 'rotary_pct'. This shim
# puts the raw config.json keys back before running the unmodified converter.
CONVERT_SHIM = r"""
import json, runpy, sys
from pathlib import Path
script = Path(sys.argv[1]).resolve()
src = script.parent
sys.path.insert(0, str(src / "gguf-py"))
sys.path.insert(0, str(src))
try:
    from conversion.base import ModelBase
except Exception:  # older layout: everything in convert_hf_to_gguf.py
    ModelBase = None
if ModelBase is not None and hasattr(ModelBase, "load_hparams"):
    _orig = ModelBase.load_hparams
    def _load_hparams(dir_model, *args, **kwargs):
        cfg = _orig(dir_model, *args, **kwargs)
        p = Path(dir_model) / "config.json"
        if isinstance(cfg, dict) and p.is_file():
            raw = json.loads(p.read_text(encoding="utf-8"))
            for k in ("rotary_pct", "rotary_emb_base"):
                if k in raw and k not in cfg:
                    cfg[k] = raw[k]
        return cfg
    ModelBase.load_hparams = staticmethod(_load_hparams)
sys.argv = [str(script)] + sys.argv[2:]
runpy.run_path(str(script), run_name="__main__")
"""


# ---------------------------------------------------------------- utilities


def log(msg: str) -> None:
    print(f"[bench_llamacpp] {msg}", file=sys.stderr, flush=True)


def q(cmd: list[str]) -> str:
    return " ".join(shlex.quote(str(c)) for c in cmd)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


TIME_BIN = "/usr/bin/time"


@dataclass
class RunResult:
    cmd: list[str]
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_bytes: int | None


def run_measured(cmd: list[str], env: dict | None = None, cwd: str | None = None,
                 stdout_path: Path | None = None) -> RunResult:
    """Runs cmd, measuring wall time and peak RSS (/usr/bin/time -v, else wait4)."""
    cmd = [str(c) for c in cmd]
    t0 = time.monotonic()
    out_f = open(stdout_path, "w") if stdout_path else subprocess.PIPE
    try:
        if os.access(TIME_BIN, os.X_OK):
            with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
                tpath = tf.name
            try:
                p = subprocess.run([TIME_BIN, "-v", "-o", tpath] + cmd, stdout=out_f,
                                   stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
                rss = None
                text = Path(tpath).read_text(errors="replace")
                m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
                if m:
                    rss = int(m.group(1)) * 1024
            finally:
                os.unlink(tpath)
            stdout, stderr, rc = (p.stdout or ""), p.stderr, p.returncode
        else:
            proc = subprocess.Popen(cmd, stdout=out_f, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
            stdout, stderr = proc.communicate()
            # communicate() reaped it; ru_maxrss of children is a max over all
            # children, so this fallback is only an upper bound
            import resource
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
            rc = proc.returncode
            stdout = stdout or ""
    finally:
        if stdout_path:
            out_f.close()
    return RunResult(cmd, rc, stdout, stderr, time.monotonic() - t0, rss)


def parse_json_array(text: str):
    """The first JSON array in text (tolerates log lines before or after it)."""
    dec = json.JSONDecoder()
    for m in re.finditer(r"\[", text):
        try:
            obj, _ = dec.raw_decode(text[m.start():])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, list) and (not obj or isinstance(obj[0], dict)):
            return obj
    raise ValueError("no JSON array of objects in the output")


def split_pp_tg(objs: list[dict]) -> tuple[float | None, float | None]:
    pp = tg = None
    for o in objs:
        n_p, n_g = int(o.get("n_prompt", 0) or 0), int(o.get("n_gen", 0) or 0)
        ts = o.get("avg_ts")
        if ts is None:
            continue
        if n_p > 0 and n_g == 0:
            pp = float(ts)
        elif n_g > 0 and n_p == 0:
            tg = float(ts)
    return pp, tg


def fresh(target: Path, sources: list[Path]) -> bool:
    """True when target exists and is newer than every source."""
    if not target.is_file() or target.stat().st_size == 0:
        return False
    t = target.stat().st_mtime
    return all((not s.exists()) or s.stat().st_mtime <= t for s in sources)


# ---------------------------------------------------------------- conversions


@dataclass
class ConvStep:
    what: str
    cmd: str
    wall_s: float | None = None     # None when cached
    peak_rss_bytes: int | None = None
    size: int | None = None
    error: str | None = None


@dataclass
class Ctx:
    args: argparse.Namespace
    hf: Path
    work: Path
    llama_bin: Path
    llama_src: Path | None
    dolly: Path | None
    sources: list[Path]
    steps: list[ConvStep] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def find_llama_src(llama_bin: Path, given: str | None) -> Path | None:
    if given:
        return Path(given)
    for d in [llama_bin, *llama_bin.parents]:
        if (d / "convert_hf_to_gguf.py").is_file():
            return d
    return None


def llama_f16(ctx: Ctx) -> Path | None:
    out = ctx.work / f"{ctx.hf.name}-f16.gguf"
    if ctx.llama_src is None:
        ctx.steps.append(ConvStep("convert_hf_to_gguf f16", "", error="convert_hf_to_gguf.py not found (--llama-src)"))
        return None
    script = ctx.llama_src / "convert_hf_to_gguf.py"
    tmp = out.with_suffix(".gguf.part")
    cmd = [ctx.args.python, "-c", CONVERT_SHIM, str(script), str(ctx.hf), "--outtype", "f16", "--outfile", str(tmp)]
    shown = [ctx.args.python, str(script), str(ctx.hf), "--outtype", "f16", "--outfile", str(out)]
    step = ConvStep("llama.cpp convert_hf_to_gguf.py --outtype f16", q(shown))
    ctx.commands.append(q(shown) + "   # run through a shim that restores config.json's rotary_pct (transformers >= 5)")
    if fresh(out, ctx.sources):
        log(f"cached: {out}")
    else:
        log(f"converting with llama.cpp: {q(shown)}")
        r = run_measured(cmd, stdout_path=ctx.work / "convert_hf_to_gguf.log")
        if r.rc != 0 or not tmp.is_file():
            step.error = f"exit {r.rc}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"
            ctx.steps.append(step)
            (ctx.work / "convert_hf_to_gguf.err").write_text(r.stderr)
            log(f"convert_hf_to_gguf failed ({step.error}); see {ctx.work / 'convert_hf_to_gguf.err'}")
            return None
        os.replace(tmp, out)
        step.wall_s, step.peak_rss_bytes = r.wall_s, r.peak_rss_bytes
    step.size = out.stat().st_size
    ctx.steps.append(step)
    return out


def llama_quant(ctx: Ctx, f16: Path | None, ltype: str) -> Path | None:
    out = ctx.work / f"{ctx.hf.name}-{ltype}.gguf"
    qbin = ctx.llama_bin / "llama-quantize"
    cmd = [str(qbin), str(f16) if f16 else "?", str(out), ltype, str(ctx.args.threads)]
    step = ConvStep(f"llama-quantize {ltype}", q(cmd))
    ctx.commands.append(q(cmd))
    if fresh(out, ctx.sources + ([f16] if f16 else [])):
        log(f"cached: {out}")
    elif f16 is None:
        step.error = "no f16 GGUF"
        ctx.steps.append(step)
        return None
    else:
        tmp = out.with_suffix(".gguf.part")
        log(f"quantizing: {q(cmd)}")
        r = run_measured([str(qbin), str(f16), str(tmp), ltype, str(ctx.args.threads)],
                         stdout_path=ctx.work / f"llama-quantize-{ltype}.log")
        if r.rc != 0 or not tmp.is_file():
            step.error = f"exit {r.rc}"
            ctx.steps.append(step)
            log(f"llama-quantize failed: {r.stderr[-2000:]}")
            return None
        os.replace(tmp, out)
        step.wall_s, step.peak_rss_bytes = r.wall_s, r.peak_rss_bytes
    step.size = out.stat().st_size
    ctx.steps.append(step)
    return out


def dolly_convert(ctx: Ctx, dquant: str) -> tuple[Path | None, str | None]:
    out = ctx.work / f"{ctx.hf.name}-{dquant}.dolly"
    if ctx.dolly is None:
        return None, "no --dolly binary"
    cmd = [str(ctx.dolly), "convert", str(ctx.hf), "-o", str(out), "--quant", dquant, "-t", str(ctx.args.threads)]
    step = ConvStep(f"dolly convert --quant {dquant}", q(cmd))
    ctx.commands.append(q(cmd))
    deps = ctx.sources + ([ctx.dolly] if ctx.args.reconvert_dolly_on_rebuild else [])
    if fresh(out, deps):
        log(f"cached: {out}")
    else:
        log(f"converting with dolly: {q(cmd)}")
        r = run_measured(cmd)
        if r.rc != 0 or not out.is_file():
            err = (r.stderr.strip().splitlines() or [f"exit {r.rc}"])[-1]
            step.error = f"exit {r.rc}: {err}"
            ctx.steps.append(step)
            log(f"dolly convert failed: {step.error}")
            return None, step.error
        step.wall_s, step.peak_rss_bytes = r.wall_s, r.peak_rss_bytes
    step.size = out.stat().st_size
    ctx.steps.append(step)
    return out, None


# ---------------------------------------------------------------- benchmarks


@dataclass
class Series:
    pp: list[float] = field(default_factory=list)
    tg: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    kernel: str | None = None
    build: str | None = None
    error: str | None = None

    def med(self, which: str) -> float | None:
        xs = getattr(self, which)
        return statistics.median(xs) if xs else None

    def rng(self, which: str) -> str:
        xs = getattr(self, which)
        return f"{min(xs):.2f}–{max(xs):.2f}" if xs else "n/a"

    def peak(self) -> int | None:
        return max(self.rss) if self.rss else None


def llama_bench_cmd(ctx: Ctx, gguf: Path) -> list[str]:
    a = ctx.args
    cmd = [str(ctx.llama_bin / "llama-bench"), "-m", str(gguf), "-t", str(a.threads),
           "-p", str(a.p), "-n", str(a.n), "-r", "1", "-o", "json"]
    if a.depth:
        cmd += ["-d", str(a.depth)]
    if a.kv == "q8":
        cmd += ["-ctk", "q8_0", "-ctv", "q8_0", "-fa", "1"]  # llama.cpp quantizes V only with flash attention
    elif a.flash_attn is not None:
        cmd += ["-fa", a.flash_attn]
    return cmd


def dolly_bench_cmd(ctx: Ctx, model: Path) -> list[str]:
    a = ctx.args
    cmd = [str(ctx.dolly), "bench", "--model", str(model), "-p", str(a.p), "-n", str(a.n),
           "-t", str(a.threads), "-r", "1", "-o", "json"]
    if a.depth:
        cmd += ["-d", str(a.depth)]
    if a.kv != "f16":
        cmd += ["--kv", a.kv]
    return cmd


def one_round(cmd: list[str], series: Series, who: str) -> None:
    r = run_measured(cmd)
    if r.rc != 0:
        tail = (r.stderr.strip().splitlines() or [""])[-1]
        series.error = f"exit {r.rc}: {tail}"
        log(f"{who} failed: {series.error}")
        return
    try:
        objs = parse_json_array(r.stdout)
    except ValueError as e:
        series.error = f"unparsable output ({e})"
        log(f"{who}: {series.error}: {r.stdout[:300]!r}")
        return
    pp, tg = split_pp_tg(objs)
    if pp is not None:
        series.pp.append(pp)
    if tg is not None:
        series.tg.append(tg)
    rss = r.peak_rss_bytes
    if rss is None:
        rss = next((o.get("peak_rss_bytes") for o in objs if o.get("peak_rss_bytes")), None)
    if rss is not None:
        series.rss.append(int(rss))
    for o in objs:
        series.kernel = series.kernel or o.get("kernel")
        series.build = series.build or o.get("build_commit")
    log(f"{who}: pp={fmt(pp)} tg={fmt(tg)} t/s, peak RSS {human_bytes(rss)}")


def bench_pair(ctx: Ctx, gguf: Path | None, dmodel: Path | None, dolly_err: str | None) -> tuple[Series, Series]:
    ls, ds = Series(), Series()
    if gguf is None:
        ls.error = "no GGUF"
    if dmodel is None:
        ds.error = dolly_err or "no .dolly file"
    rounds = ctx.args.rounds
    for w in range(ctx.args.warmup):
        log(f"warm-up {w + 1}/{ctx.args.warmup} (discarded)")
        if gguf is not None:
            run_measured(llama_bench_cmd(ctx, gguf))
        if dmodel is not None and ds.error is None:
            run_measured(dolly_bench_cmd(ctx, dmodel))
    for i in range(rounds):
        # strictly alternating: llama.cpp, dolly, llama.cpp, dolly, ...
        if gguf is not None and ls.error is None:
            one_round(llama_bench_cmd(ctx, gguf), ls, f"round {i + 1}/{rounds} llama.cpp")
        if dmodel is not None and ds.error is None:
            one_round(dolly_bench_cmd(ctx, dmodel), ds, f"round {i + 1}/{rounds} dolly")
    return ls, ds


def llama_ppl(ctx: Ctx, gguf: Path) -> tuple[str, str]:
    a = ctx.args
    cmd = [str(ctx.llama_bin / "llama-perplexity"), "-m", str(gguf), "-f", a.perplexity, "-c", str(a.ctx),
           "-t", str(a.threads)]
    r = run_measured(cmd)
    text = r.stdout + "\n" + r.stderr
    m = re.search(r"Final estimate:\s*PPL\s*=\s*([0-9.]+)(?:\s*\+/-\s*([0-9.]+))?", text)
    if not m:
        tail = (r.stderr.strip().splitlines() or [""])[-1]
        return q(cmd), f"failed (exit {r.rc}: {tail})"
    return q(cmd), m.group(1) + (f" ± {m.group(2)}" if m.group(2) else "")


def dolly_ppl(ctx: Ctx, model: Path) -> tuple[str, str]:
    a = ctx.args
    cmd = [str(ctx.dolly), "perplexity", "--model", str(model), a.perplexity, "--context", str(a.ctx),
           "-t", str(a.threads)]
    r = run_measured(cmd)
    m = None
    for line in reversed(r.stdout.strip().splitlines()):
        m = re.search(r"perplexity:\s*([0-9.]+)(?:\s*\+/-\s*([0-9.]+))?", line)
        if m:
            break
    if r.rc != 0 or not m:
        tail = (r.stderr.strip().splitlines() or [""])[-1]
        return q(cmd), f"failed (exit {r.rc}: {tail})"
    return q(cmd), m.group(1) + (f" ± {m.group(2)}" if m.group(2) else "")


# ---------------------------------------------------------------- report


def size_of(p: Path | None) -> int | None:
    return p.stat().st_size if p is not None and p.is_file() else None


def report(ctx: Ctx, results: list[dict], load_start: str, load_end: str, started: str) -> str:
    a = ctx.args
    L = []
    L.append(f"## dolly vs llama.cpp: {ctx.hf.name} ({started})")
    L.append("")
    build = next((r["llama"].build for r in results if r["llama"].build), None)
    kernel = next((r["dolly"].kernel for r in results if r["dolly"].kernel), None)
    L.append(f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores); load average {load_start} at start, {load_end} at end")
    L.append(f"- threads {a.threads}, pp{a.p} / tg{a.n}, {a.rounds} rounds each, the two runtimes run alternately, "
             f"one repetition per process (`-r 1`), median over rounds; peak RSS is the largest over rounds "
             f"(/usr/bin/time -v)")
    if a.depth or a.kv != "f16":
        L.append(f"- KV cache {a.kv}" + (f", each test starting with {a.depth} tokens already in the cache (`-d {a.depth}`)"
                                         if a.depth else ""))
    L.append(f"- llama.cpp: build {build or 'n/a'} from `{ctx.llama_bin}`; dolly: `{ctx.dolly or 'n/a'}`"
             + (f", kernel `{kernel}`" if kernel else ""))
    L.append("")
    L.append("Commands:")
    L.append("")
    L.append("```")
    for c in ctx.commands:
        L.append(c)
    for r in results:
        if r["gguf"] is not None:
            L.append(q(llama_bench_cmd(ctx, r["gguf"])) + f"   # x{a.rounds}")
        if r["dmodel"] is not None:
            L.append(q(dolly_bench_cmd(ctx, r["dmodel"])) + f"   # x{a.rounds}")
    for r in results:
        for c in r.get("ppl_cmds", []):
            L.append(c)
    L.append("```")
    L.append("")
    for r in results:
        ls, ds = r["llama"], r["dolly"]
        ltype, dq = r["ltype"], r["dquant"]
        L.append(f"### {ltype} (llama.cpp) vs {dq} (dolly)")
        L.append("")
        at = f" @ d{a.depth}" if a.depth else ""
        L.append(f"| runtime | file | size | pp{a.p}{at} t/s (median; range) | tg{a.n}{at} t/s (median; range) | peak RSS |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: |")
        lsz, dsz = size_of(r["gguf"]), size_of(r["dmodel"])

        def row(name, path, sz, s: Series):
            if s.error and not s.pp and not s.tg:
                return f"| {name} | {path.name if path else 'n/a'} | {human_bytes(sz)} | n/a ({s.error}) | n/a | n/a |"
            return (f"| {name} | {path.name if path else 'n/a'} | {human_bytes(sz)} | {fmt(s.med('pp'))} ({s.rng('pp')}) "
                    f"| {fmt(s.med('tg'))} ({s.rng('tg')}) | {human_bytes(s.peak())} |")

        L.append(row("llama.cpp", r["gguf"], lsz, ls))
        L.append(row("dolly", r["dmodel"], dsz, ds))
        L.append(f"| dolly / llama.cpp | | {ratio(dsz, lsz)} | {ratio(ds.med('pp'), ls.med('pp'))} "
                 f"| {ratio(ds.med('tg'), ls.med('tg'))} | {ratio(ds.peak(), ls.peak())} |")
        if "ppl" in r:
            lp, dp = r["ppl"]
            L.append("")
            L.append(f"Perplexity of `{Path(a.perplexity).name}` at context {a.ctx}: llama.cpp {lp}, dolly {dp}.")
        L.append("")
    measured = [s for s in ctx.steps if s.wall_s is not None or s.error]
    if measured:
        L.append("Conversions run in this session:")
        L.append("")
        L.append("| step | wall | peak RSS | output size |")
        L.append("| --- | ---: | ---: | ---: |")
        for s in measured:
            if s.error:
                L.append(f"| {s.what} | failed: {s.error} | | |")
            else:
                L.append(f"| {s.what} | {s.wall_s:.1f} s | {human_bytes(s.peak_rss_bytes)} | {human_bytes(s.size)} |")
        L.append("")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hf", required=True, help="a Dolly Hugging Face folder (config.json, tokenizer.json, weights)")
    ap.add_argument("--dolly", help="the dolly binary (optional: without it only llama.cpp runs)")
    ap.add_argument("--llama-bin", required=True, help="llama.cpp's build bin folder (llama-bench, llama-quantize, ...)")
    ap.add_argument("--llama-src", help="llama.cpp source folder with convert_hf_to_gguf.py (default: found above --llama-bin)")
    venv_py = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"  # tools/.venv
    ap.add_argument("--python", default=str(venv_py) if venv_py.exists() else sys.executable,
                    help="Python with torch + transformers that runs convert_hf_to_gguf.py (default: %(default)s)")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "dolly-bench-llamacpp"),
                    help="where converted files are cached (default: %(default)s)")
    ap.add_argument("--quants", default="q4,q8", help="comma-separated: q4 (Q4_0), q8 (Q8_0); default %(default)s")
    ap.add_argument("--threads", "-t", type=int, default=2)
    ap.add_argument("-p", type=int, default=512, help="prompt tokens (default %(default)s)")
    ap.add_argument("-n", type=int, default=128, help="generated tokens (default %(default)s)")
    ap.add_argument("-d", "--depth", type=int, default=0,
                    help="tokens already in the KV cache when each test starts (both tools' -d; default 0)")
    ap.add_argument("--kv", choices=["f16", "q8"], default="f16",
                    help="KV cache: f16 (default) or q8 (llama.cpp: -ctk q8_0 -ctv q8_0 -fa 1; dolly: --kv q8)")
    ap.add_argument("--flash-attn", choices=["0", "1"],
                    help="llama-bench -fa with an f16 KV cache (default: llama-bench's own; on this CPU 0 is faster "
                         "at depth)")
    ap.add_argument("-r", "--rounds", type=int, default=5, help="alternate rounds per runtime (at least 5 recommended)")
    ap.add_argument("--warmup", type=int, default=0, help="discarded warm-up rounds before measuring")
    ap.add_argument("--append", help="append the markdown section to this file")
    ap.add_argument("--perplexity", help="a text file: also compare llama-perplexity and dolly perplexity")
    ap.add_argument("--ctx", type=int, default=512, help="context for --perplexity (default %(default)s)")
    ap.add_argument("--no-bench", action="store_true", help="skip the speed rounds (e.g. only --perplexity)")
    ap.add_argument("--reconvert-dolly-on-rebuild", action="store_true",
                    help="redo dolly convert when the dolly binary is newer than the cached .dolly")
    a = ap.parse_args(argv)

    hf = Path(a.hf).resolve()
    if not (hf / "config.json").is_file():
        ap.error(f"{hf} has no config.json")
    llama_bin = Path(a.llama_bin).resolve()
    for tool in ["llama-bench", "llama-quantize"] + (["llama-perplexity"] if a.perplexity else []):
        if not os.access(llama_bin / tool, os.X_OK):
            ap.error(f"{llama_bin / tool} is missing or not executable")
    dolly = Path(a.dolly).resolve() if a.dolly else None
    if dolly is not None and not os.access(dolly, os.X_OK):
        log(f"{dolly} is not executable: running llama.cpp alone")
        dolly = None
    quants = [x.strip() for x in a.quants.split(",") if x.strip()]
    for x in quants:
        if x not in QUANTS:
            ap.error(f"unknown quant {x!r} (choose from {', '.join(QUANTS)})")
    if a.perplexity and not Path(a.perplexity).is_file():
        ap.error(f"{a.perplexity} does not exist")
    a.perplexity = str(Path(a.perplexity).resolve()) if a.perplexity else None

    work = Path(a.work).resolve() / hf.name
    work.mkdir(parents=True, exist_ok=True)
    sources = [p for p in hf.iterdir() if p.is_file()]
    ctx = Ctx(a, hf, work, llama_bin, find_llama_src(llama_bin, a.llama_src), dolly, sources)
    started = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")

    # conversions first (never concurrently with measurements)
    f16 = llama_f16(ctx)
    pairs = []
    for x in quants:
        ltype, dq = QUANTS[x]
        gguf = llama_quant(ctx, f16, ltype)
        dmodel, derr = dolly_convert(ctx, dq)
        pairs.append((ltype, dq, gguf, dmodel, derr))

    load_start = loadavg()
    results = []
    for ltype, dq, gguf, dmodel, derr in pairs:
        r = {"ltype": ltype, "dquant": dq, "gguf": gguf, "dmodel": dmodel}
        if a.no_bench:
            r["llama"], r["dolly"] = Series(error="skipped"), Series(error="skipped")
        else:
            log(f"benchmarking {ltype} vs dolly {dq}: {a.rounds} alternate rounds")
            r["llama"], r["dolly"] = bench_pair(ctx, gguf, dmodel, derr)
        if a.perplexity:
            lc, lp = llama_ppl(ctx, gguf) if gguf else ("", "n/a (no GGUF)")
            dc, dp = dolly_ppl(ctx, dmodel) if dmodel else ("", f"n/a ({derr or 'no .dolly'})")
            r["ppl"] = (lp, dp)
            r["ppl_cmds"] = [c for c in (lc, dc) if c]
            log(f"perplexity {ltype}: llama.cpp {lp}, dolly {dp}")
        results.append(r)
    load_end = loadavg()

    md = report(ctx, results, load_start, load_end, started)
    print(md)
    if a.append:
        with open(a.append, "a", encoding="utf-8") as f:
            f.write("\n" + md)
        log(f"appended to {a.append}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
