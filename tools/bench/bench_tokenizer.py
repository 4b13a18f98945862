#!/usr/bin/env python3
"""Tokenizer throughput: dolly's tokenizer against Hugging Face `tokenizers` (Rust, through Python) on
the same files, run alternately in the same session, medians over the rounds.

Each round runs `dolly bench --tokenizer FILE... -r 1 -o json` (one process; per file a freshly loaded
tokenizer, only `encode` timed) and then this script's own `tokenizers` worker (the same: per file a
fresh `Tokenizer.from_file`, only `encode` timed). A last pair of columns times `dolly tokenize
--file` end to end (loading included) on the 900,000-byte word, as the issue measured.

    tools/.venv/bin/python tools/bench/bench_tokenizer.py --dolly .build/release/dolly --rounds 5

Needs `tokenizers` in tools/.venv (python3 -m venv tools/.venv && tools/.venv/bin/pip install tokenizers).
"""
import argparse
import base64
import glob
import json
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/: toolpaths
from toolpaths import FIXTURES, ROOT, VENV_PYTHON  # noqa: E402

SEED = 20261206


def cjk_text(rng, size):
    """Sentences of common Chinese characters and kana with CJK punctuation (no spaces, as CJK is
    written): each run between punctuation is one pre-tokenized piece."""
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    kana = [chr(c) for c in range(0x3041, 0x3097)]
    out, n = [], 0
    while n < size:
        sentence = "".join(rng.choice(han if rng.random() < 0.7 else kana) for _ in range(rng.randint(8, 40)))
        sentence += rng.choice(["，", "。", "、", "！", "？", "。\n"])
        out.append(sentence)
        n += len(sentence.encode())
    return "".join(out)


def write_inputs(folder):
    """The benchmark's files: name -> path."""
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(SEED)
    code = []
    for path in sorted(glob.glob(os.path.join(ROOT, "Sources", "**", "*.swift"), recursive=True)):
        code.append(open(path, encoding="utf-8").read())
        if sum(map(len, code)) > 200_000:
            break
    texts = {
        "prose": open(os.path.join(FIXTURES, "heldout.txt"), encoding="utf-8").read(),
        "code": "".join(code),
        "cjk": cjk_text(rng, 150_000),
        "word-128k": "a" * 128_000,
        "word-1m": "a" * 1_000_000,
        "base64-256k": base64.b64encode(rng.randbytes(192_000)).decode(),
        "dna-256k": "".join(rng.choice("ACGT") for _ in range(256_000)),
    }
    paths = {}
    for name, text in texts.items():
        paths[name] = os.path.join(folder, name + ".txt")
        with open(paths[name], "w", encoding="utf-8") as f:
            f.write(text)
    paths["word-900k"] = os.path.join(folder, "word-900k.txt")
    with open(paths["word-900k"], "w") as f:
        f.write("a" * 900_000)
    return paths


def hf_worker(tokenizer_json, files):
    """Runs in a child process: {file: (seconds, tokens)}."""
    from tokenizers import Tokenizer
    out = {}
    for path in files:
        text = open(path, encoding="utf-8").read()
        tok = Tokenizer.from_file(tokenizer_json)
        start = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=False).ids
        out[path] = (time.perf_counter() - start, len(ids))
    print(json.dumps(out))


def issue_table(args, tokenizer_json):
    """`dolly tokenize --file` and a `tokenizers` one-liner on N bytes of 'a', whole processes timed."""
    os.makedirs(args.work, exist_ok=True)
    python = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
    sizes = [2_000, 8_000, 32_000, 128_000, 900_000]
    times = {n: {"dolly": [], "tokenizers": []} for n in sizes}
    for _ in range(args.rounds):
        for n in sizes:
            path = os.path.join(args.work, f"a-{n}.txt")
            with open(path, "w") as f:
                f.write("a" * n)
            for tool, cmd in [("dolly", [args.dolly, "tokenize", "--model", args.model, "--file", path]),
                              ("tokenizers", [python, "-c", "import sys; from tokenizers import Tokenizer; "
                                              "t = Tokenizer.from_file(sys.argv[1]); "
                                              "print(' '.join(map(str, t.encode(open(sys.argv[2]).read()).ids)))",
                                              tokenizer_json, path])]:
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                times[n][tool].append(time.perf_counter() - start)
    print(f"{args.rounds} alternating rounds, medians; whole processes (loading included)\n")
    print("| N bytes of one word | dolly tokenize | tokenizers (python -c) |\n|---:|---:|---:|")
    for n in sizes:
        print(f"| {n:,} | {statistics.median(times[n]['dolly']):.2f} s | {statistics.median(times[n]['tokenizers']):.2f} s |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build", "release", "dolly"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "dolly-demo"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default="/tmp/dolly-tokenizer-bench")
    ap.add_argument("--issue-table", action="store_true",
                    help="instead: issue 25's table, N bytes of one word end to end (loading included), both tools")
    ap.add_argument("--hf-worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    tokenizer_json = os.path.join(args.model, "tokenizer.json")
    if args.hf_worker:
        return hf_worker(tokenizer_json, args.hf_worker)

    if args.issue_table:
        return issue_table(args, tokenizer_json)
    paths = write_inputs(args.work)
    timed = [n for n in paths if n != "word-900k"]
    files = [paths[n] for n in timed]
    python = VENV_PYTHON if os.path.exists(VENV_PYTHON) else sys.executable
    dolly_s, hf_s, tokens, e2e = {n: [] for n in timed}, {n: [] for n in timed}, {}, {"dolly": [], "tokenizers": []}
    for r in range(args.rounds):
        run = subprocess.run([args.dolly, "bench", "--model", args.model, "--tokenizer", *files, "-r", "1", "-o", "json"],
                             check=True, capture_output=True, text=True)
        for entry, name in zip(json.loads(run.stdout), timed):
            dolly_s[name].append(entry["samples_s"][0])
            tokens.setdefault(name, {})["dolly"] = entry["tokens"]
        run = subprocess.run([python, __file__, "--model", args.model, "--hf-worker", *files],
                             check=True, capture_output=True, text=True)
        hf = json.loads(run.stdout)
        for name in timed:
            hf_s[name].append(hf[paths[name]][0])
            tokens[name]["tokenizers"] = hf[paths[name]][1]
        # End to end, loading included: the issue's `dolly tokenize` of 900,000 bytes of one word.
        start = time.perf_counter()
        subprocess.run([args.dolly, "tokenize", "--model", args.model, "--file", paths["word-900k"]],
                       check=True, stdout=subprocess.DEVNULL)
        e2e["dolly"].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([python, "-c", "import sys; from tokenizers import Tokenizer; "
                        "t = Tokenizer.from_file(sys.argv[1]); print(' '.join(map(str, t.encode(open(sys.argv[2]).read()).ids)))",
                        tokenizer_json, paths["word-900k"]], check=True, stdout=subprocess.DEVNULL)
        e2e["tokenizers"].append(time.perf_counter() - start)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    med = statistics.median
    print(f"{args.rounds} alternating rounds, medians; encode only (load not timed), a fresh tokenizer per file\n")
    print("| input | bytes | tokens | dolly | tokenizers | dolly / tokenizers | dolly MB/s | tokenizers MB/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in timed:
        size = os.path.getsize(paths[name])
        d, h = med(dolly_s[name]), med(hf_s[name])
        same = "" if tokens[name]["dolly"] == tokens[name]["tokenizers"] else f" (tokenizers: {tokens[name]['tokenizers']})"
        print(f"| {name} | {size:,} | {tokens[name]['dolly']:,}{same} | {d * 1e3:.1f} ms | {h * 1e3:.1f} ms | {d / h:.2f} | "
              f"{size / d / 1e6:.1f} | {size / h / 1e6:.1f} |")
    print(f"\nword-1m / word-128k time: dolly {med(dolly_s['word-1m']) / med(dolly_s['word-128k']):.1f}x, "
          f"tokenizers {med(hf_s['word-1m']) / med(hf_s['word-128k']):.1f}x (bytes: 7.8x)")
    print(f"900,000 bytes of one word, end to end with loading: dolly tokenize {med(e2e['dolly']):.2f} s, "
          f"tokenizers (python -c) {med(e2e['tokenizers']):.2f} s")


if __name__ == "__main__":
    main()
