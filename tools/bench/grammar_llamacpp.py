#!/usr/bin/env python3
"""The same grammars through dolly and llama.cpp on the same checkpoint (issue 21).

For each schema in tools/bench/schemas (and `--json`'s any-object grammar), the GBNF text comes
from `dolly run --print-grammar`, so both engines get the same grammar file. Then:

1. Prompt: Dolly's template around one instruction with an Input: context. `dolly tokenize` and
   `llama-tokenize` (special tokens parsed) must give the same ids, or the comparison stops.
2. Outputs: `dolly run --greedy --grammar F` against `llama-cli --grammar-file F --temp 0 --top-k 1`
   (the prompt passed with -p: llama-cli's -f drops the file's last newline, which turns the special
   token "### Response:\\n" into plain text) and against the timing harness's own greedy loop.
   dolly strips the answer's surrounding whitespace like Dolly's pipeline, so llama.cpp's text is
   compared stripped; where they differ, the harness's logits at the first differing token say why.
3. Cost of the constraint per token, threads 1: `dolly bench --grammar F -n N -r 20` (its mask
   percentiles: the full-vocabulary mask, replayed over 20 sampled answers) and
   tools/bench/llamacpp_grammar_timing.cpp on libllama (llama-cli and llama-server print no grammar
   timing), which times per step, on 20 answers sampled at temperature 1 under the grammar: the full
   `llama_sampler_apply(grammar)` over all candidates (the same work as our mask), the one-token check
   common_sampler_sample does first, and `llama_sampler_accept`. Both on the prompt `dolly bench` uses.
   --runs alternating runs of each; the table gives the median over runs of each run's statistic.

Example (from the repository root, llama.cpp built as BENCHMARKS.md says):

    flock /tmp/dolly-cpu.lock python3 tools/bench/grammar_llamacpp.py \\
        --model models/dolly-demo --gguf /work/anchors/demo-f32.gguf \\
        --llama /work/anchors/llama_cpp_python-0.3.16/vendor/llama.cpp --work /work/anchors/grammar-work
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTRO = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
INSTRUCTION = "Extract the facts in the text as JSON."
CONTEXT = ("Maria Lopez (maria@mail.com) is 34 and happy. She owns a cat named Tom, aged 3, and a dog named Rex. "
           "Order ABC-1234 was placed on 2024-05-01.")
BENCH_PROMPT = "Answer in JSON: describe a person, their pets and a plan for the week."  # dolly bench's prompt
END_IDS = "0,50277"  # <|endoftext|> and "### End": their logits are recorded at every step


def dolly_prompt(instruction, context=None):
    body = f"{instruction}\n\nInput:\n{context}" if context else instruction
    return f"{INTRO}\n\n### Instruction:\n{body}\n\n### Response:\n"


def log(msg):
    print(f"[grammar_llamacpp] {msg}", file=sys.stderr, flush=True)


def quote(c):
    c = str(c)
    if "\n" in c:  # bash's $'...' keeps a multi-line prompt on one line
        return "$'" + c.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    return shlex.quote(c)


def run(cmd, commands=None, env=None, check=True):
    if commands is not None:
        commands.append(" ".join(quote(c) for c in cmd))
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-2000:]}")
    return r


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def parse_bench(text):
    """dolly bench's grammar report -> {fresh: [median, p90, p99, max, mean], warm: [...], tg: [with, without, ratio]}."""
    out = {}
    for line in text.splitlines():
        nums = [float(x.rstrip(",()")) for x in line.replace("(ratio", "").split() if x.rstrip(",()").replace(".", "", 1).isdigit()]
        if line.startswith("mask µs, fresh"):
            out["fresh"] = nums[-5:]
        elif line.startswith("mask µs, warm"):
            out["warm"] = nums[-5:]
        elif line.startswith("generation tok/s"):
            out["tg"] = nums[-3:]
    return out


def llama_stats(result):
    """Per-token statistics of the harness's sampled runs (µs)."""
    apply = [x for r in result["sampled"] for x in r["apply_us"]]
    check = [x for r in result["sampled"] for x in r["check_us"]]
    accept = [x for r in result["sampled"] for x in r["accept_us"]]
    g = result["greedy"]
    # What common_sampler_sample pays per token on the greedy path: the one-token check, the full mask
    # where the unconstrained choice was refused, and the accept.
    steps = len(g["check_us"])
    fast = (sum(g["check_us"]) + sum(a for a, rj in zip(g["apply_us"], g["rejected_at"]) if rj) + sum(g["accept_us"])) / max(steps, 1)
    return {"apply": [pct(apply, 50), pct(apply, 90), pct(apply, 99), max(apply), statistics.fmean(apply)],
            "check": pct(check, 50), "accept": pct(accept, 50), "n": len(apply),
            "greedy_fast": fast, "greedy_rejected": f"{g['rejected']}/{steps}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dolly", default=str(ROOT / ".build/release/dolly"))
    ap.add_argument("--model", default="models/dolly-demo", help="our checkpoint (HF folder or .dolly)")
    ap.add_argument("--gguf", required=True, help="the same checkpoint for llama.cpp (f32 GGUF)")
    ap.add_argument("--llama", required=True, help="llama.cpp source folder with build-shared/bin")
    ap.add_argument("--work", required=True, help="folder for grammars, prompts, logs and the harness binary")
    ap.add_argument("--schemas", default="flat,nested,anyof,pattern,json_object")
    ap.add_argument("-n", "--max-tokens", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=20, help="sampled answers per timing run (dolly bench -r)")
    ap.add_argument("--runs", type=int, default=5, help="alternating timing runs per engine and grammar")
    ap.add_argument("--no-timing", action="store_true")
    a = ap.parse_args()

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    llama = Path(a.llama)
    bindir = llama / "build-shared/bin"
    commands = []

    # The timing harness, built against the shared libllama.
    harness = work / "llamacpp_grammar_timing"
    src = ROOT / "tools/bench/llamacpp_grammar_timing.cpp"
    if not harness.exists() or harness.stat().st_mtime < src.stat().st_mtime:
        run(["g++", "-O2", "-std=c++17", src, "-I", llama / "include", "-I", llama / "ggml/include", "-L", bindir,
             "-lllama", "-lggml", "-lggml-base", f"-Wl,-rpath,{bindir}", "-o", harness], commands)

    prompt = dolly_prompt(INSTRUCTION, CONTEXT)
    (work / "prompt.txt").write_text(prompt)
    (work / "bench_prompt.txt").write_text(dolly_prompt(BENCH_PROMPT))

    # 1. The same prompt ids on both sides.
    ours_ids = [int(x) for x in run([a.dolly, "tokenize", "--model", a.model, "--file", work / "prompt.txt"], commands).stdout.split()]
    tok = run([bindir / "llama-tokenize", "-m", a.gguf, "-f", work / "prompt.txt", "--ids", "--log-disable"], commands).stdout
    llama_ids = json.loads(tok.strip().splitlines()[-1])
    same_prompt = ours_ids == llama_ids
    log(f"prompt: {len(ours_ids)} ids (dolly), {len(llama_ids)} (llama-tokenize): {'same' if same_prompt else 'DIFFERENT'}")
    if not same_prompt:
        raise SystemExit(f"prompt ids differ:\n{ours_ids}\n{llama_ids}")

    rows, timing = [], []
    for name in a.schemas.split(","):
        flag = ["--json"] if name == "json_object" else ["--json-schema", ROOT / f"tools/bench/schemas/{name}.json"]
        gbnf = work / f"{name}.gbnf"
        gbnf.write_text(run([a.dolly, "run", "--model", a.model, "--print-grammar", *flag, "x"], commands).stdout)

        # 2. Greedy outputs.
        ours = run([a.dolly, "run", "--model", a.model, "--greedy", "-t", a.threads, "--max-tokens", a.max_tokens,
                    "--grammar", gbnf, "--verbose", "--input", CONTEXT, INSTRUCTION], commands)
        ours_text = ours.stdout[:-1] if ours.stdout.endswith("\n") else ours.stdout
        ours_n = ours.stderr.split("generated: ")[1].split(" tokens")[0] if "generated: " in ours.stderr else "?"
        ours_stop = ours.stderr.rsplit("stop: ", 1)[1].strip() if "stop: " in ours.stderr else "?"
        cli = run([bindir / "llama-cli", "-m", a.gguf, "-p", prompt, "--grammar-file", gbnf, "-n", a.max_tokens,
                   "--temp", "0", "--top-k", "1", "-t", a.threads, "-tb", a.threads, "-c", "256", "-no-cnv",
                   "--no-display-prompt", "--no-warmup", "--seed", "1"], commands)
        cli_text = cli.stdout.rstrip("\n")
        cli_eog = cli_text.endswith(" [end of text]")
        if cli_eog:
            cli_text = cli_text[: -len(" [end of text]")]
        env = dict(os.environ, WATCH_IDS=END_IDS)
        h = json.loads(run([harness, a.gguf, gbnf, work / "prompt.txt", a.max_tokens, a.threads, 0], commands, env=env).stdout)
        (work / f"{name}.greedy.json").write_text(json.dumps(h))
        g = h["greedy"]
        same = ours_text == cli_text.strip()
        first = next((i for i, (x, y) in enumerate(zip(ours_text, cli_text.strip())) if x != y),
                     min(len(ours_text), len(cli_text.strip())))
        # Why the token counts or texts differ, from llama.cpp's logits (WATCH_IDS: <|endoftext|>, "### End",
        # then the unconstrained argmax) and dolly's notes.
        notes = []
        if "closed to fit" in ours.stderr:
            notes.append("dolly closed the value to fit --max-tokens (it keeps only tokens that can still finish "
                         "within the budget); llama.cpp ran out of tokens inside it")
        toks = [t for t in g["tokens"] if t != 0]
        core = g["text"].rstrip()
        if same and g["stop"] == "eog" and core != g["text"]:
            # llama.cpp emitted trailing whitespace before <|endoftext|>; where it did, was "### End" ahead?
            step = len(toks) - 1  # the last whitespace token (a one-space token in these grammars)
            w = g["watch"][step]  # <|endoftext|>, "### End", the unconstrained argmax, the token chosen
            chosen = g["tokens"][step]
            if w[1] > w[3]:
                notes.append(f"after the JSON llama.cpp took the optional space (id {chosen}, logit {w[3]:.4f}) and then "
                             f"<|endoftext|>: \"### End\" scored higher ({w[1]:.4f}; <|endoftext|> {w[0]:.4f}) but is no "
                             f"end-of-generation token in llama.cpp, so its grammar refuses it; dolly's grammar allows its "
                             f"stop tokens once the JSON is complete and ends there, a token earlier")
        rows.append({"name": name, "same": same, "harness_same": g["text"] == cli_text, "ours": ours_text, "llama": cli_text,
                     "ours_n": ours_n, "ours_stop": ours_stop, "llama_n": len([t for t in g["tokens"] if t not in (0,)]),
                     "llama_stop": g["stop"], "first": first, "notes": notes})
        log(f"{name}: identical={same} (ours {ours_n} tokens, {ours_stop}; llama.cpp {g['stop']})")

        # 3. Cost per token, alternating runs.
        if a.no_timing:
            continue
        ob, lb = [], []
        for r in range(a.runs):
            b = run([a.dolly, "bench", "--model", a.model, "--grammar", gbnf, "-n", a.max_tokens, "-r", a.seeds,
                     "-t", a.threads], commands if r == 0 else None)
            ob.append(parse_bench(b.stdout))
            lr = json.loads(run([harness, a.gguf, gbnf, work / "bench_prompt.txt", a.max_tokens, a.threads, a.seeds],
                                commands if r == 0 else None).stdout)
            lb.append(llama_stats(lr))
        (work / f"{name}.timing.json").write_text(json.dumps({"dolly": ob, "llama": lb}))
        med = lambda xs: statistics.median(xs)
        timing.append({
            "name": name,
            "ours_fresh": [med([o["fresh"][i] for o in ob]) for i in range(5)],
            "ours_warm": med([o["warm"][0] for o in ob]),
            "ours_tg": [med([o["tg"][i] for o in ob]) for i in range(3)],
            "llama_apply": [med([l["apply"][i] for l in lb]) for i in range(5)],
            "llama_check": med([l["check"] for l in lb]),
            "llama_accept": med([l["accept"] for l in lb]),
            "llama_fast": med([l["greedy_fast"] for l in lb]),
            "llama_rejected": lb[0]["greedy_rejected"],
            "n": lb[0]["n"],
        })
        t = timing[-1]
        log(f"{name}: mask median ours {t['ours_fresh'][0]:.1f} µs, llama.cpp {t['llama_apply'][0]:.1f} µs")

    # The report.
    print(f"prompt: {len(ours_ids)} tokens, the same ids from `dolly tokenize` and `llama-tokenize` (special tokens parsed)\n")
    print("| grammar | identical (dolly = llama-cli, stripped) | dolly tokens, stop | llama.cpp tokens (without <\\|endoftext\\|>), stop | harness = llama-cli |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {'yes' if r['same'] else 'no, from char ' + str(r['first'])} | {r['ours_n']}, {r['ours_stop']} | "
              f"{r['llama_n']}, {r['llama_stop']} | {'yes' if r['harness_same'] else 'no'} |")
    print()
    for r in rows:
        print(f"- {r['name']}: dolly `{r['ours']}`" + ("" if r["same"] else f"; llama.cpp `{r['llama']}`"))
        for n in r["notes"]:
            print(f"  - {n}")
    if timing:
        print()
        print(f"Constraint cost per token, threads {a.threads}, {a.seeds} sampled answers of up to {a.max_tokens} tokens per run, "
              f"median of {a.runs} alternating runs (µs):\n")
        print("| grammar | dolly mask median / p90 / p99 / mean | dolly warm median | llama.cpp full apply median / p90 / p99 / mean "
              "| llama.cpp 1-token check | llama.cpp accept | llama.cpp common path per token, greedy on the same prompt (argmax refused) | dolly tg with / without grammar |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for t in timing:
            f, l = t["ours_fresh"], t["llama_apply"]
            print(f"| {t['name']} | {f[0]:.1f} / {f[1]:.1f} / {f[2]:.1f} / {f[4]:.1f} | {t['ours_warm']:.1f} | "
                  f"{l[0]:.0f} / {l[1]:.0f} / {l[2]:.0f} / {l[4]:.0f} | {t['llama_check']:.1f} | {t['llama_accept']:.1f} | "
                  f"{t['llama_fast']:.0f} ({t['llama_rejected']}) | {t['ours_tg'][0]:.0f} / {t['ours_tg'][1]:.0f} tok/s |")
    print("\nCommands (timing commands once each; they ran --runs times, alternating):\n")
    for c in commands:
        print(f"    {c}")


if __name__ == "__main__":
    main()
