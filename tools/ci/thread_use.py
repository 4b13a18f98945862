#!/usr/bin/env python3
"""How many cores `--threads N` really uses: CPU time over wall time of `dolly run` and of `dolly serve`
while it generates, under OMP_NUM_THREADS=8 (OpenMP's default on a 4-core / 8-thread laptop), which
must not change what --threads means. Fails when --threads 1 uses more than 1.3 cores; prints the
--threads 2 figures beside it, which show that the measurement sees a second thread when there is one.

    tools/ci/thread_use.py [--dolly .build/debug/dolly] [--model models/dolly-demo]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
# About 200 tokens of the demo's 256: long prompts are where a pass is big enough to share among threads.
PROMPT = "The history of the river and the mill: " + "the water turns the wheel and the stones grind the grain; " * 16


def run_ratio(dolly, model, threads, env):
    """CPU seconds over wall seconds of one whole `dolly run` (load, prompt, 200 tokens)."""
    start = time.monotonic()
    p = subprocess.Popen([dolly, "run", "--model", model, "--raw", "--greedy", "--max-tokens", "200",
                          "--threads", str(threads), PROMPT], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    if status != 0:
        sys.exit(f"dolly run --threads {threads} failed: {p.stderr.read().decode(errors='replace')}")
    return (usage.ru_utime + usage.ru_stime) / wall, wall


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def serve_ratio(dolly, model, threads, env):
    """CPU seconds over wall seconds of a `dolly serve` process over two seconds of requests, each a new
    prompt (a number in front, so no cached prefix skips its work)."""
    p = subprocess.Popen([dolly, "serve", "--model", model, "--port", "0", "--parallel", "1", "--threads", str(threads)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = p.stderr.readline()
        if not line.startswith("listening on "):
            sys.exit(f"dolly serve --threads {threads} did not start: {line}{p.stderr.read()}")
        base = line.split("listening on ", 1)[1].strip()

        def ask(n):
            body = json.dumps({"prompt": f"{n}. {PROMPT}", "max_tokens": 20, "temperature": 0}).encode()
            req = urllib.request.Request(base + "/v1/completions", data=body, headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=120) as r:
                json.load(r)

        ask(0)  # warm: pages of the model in, the team's threads started
        cpu0, t0 = cpu_seconds(p.pid), time.monotonic()
        n = 1
        while time.monotonic() - t0 < 2.0:
            ask(n)
            n += 1
        cpu1, t1 = cpu_seconds(p.pid), time.monotonic()
        return (cpu1 - cpu0) / (t1 - t0), t1 - t0
    finally:
        p.terminate()
        p.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dolly", default=".build/debug/dolly")
    ap.add_argument("--model", default="models/dolly-demo")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="8")
    failed = 0
    for name, measure in (("run", run_ratio), ("serve", serve_ratio)):
        figures = {t: measure(args.dolly, args.model, t, env) for t in (1, 2)}
        one, two = figures[1][0], figures[2][0]
        ok = one <= 1.3
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:5s} OMP_NUM_THREADS=8: --threads 1 uses {one:.2f} cores "
              f"(over {figures[1][1]:.1f} s), --threads 2 uses {two:.2f}")
    print(f"thread use: {2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
