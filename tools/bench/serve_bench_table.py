#!/usr/bin/env python3
"""Markdown table of a tools/bench/serve_bench.sh run: medians over the rounds of aggregate tokens/s,
TTFT and inter-token latency (p50 / p99) per server and client count, errors, and the ratios the
serving issue asks for (4 streams over 1, dolly over llama-server).

    python3 tools/bench/serve_bench_table.py /tmp/serve-bench
"""
import argparse
import glob
import json
import os
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="the OUT folder of serve_bench.sh")
    args = ap.parse_args()
    runs = {}
    for path in glob.glob(os.path.join(args.folder, "*-c*-r*.json")):
        name = os.path.basename(path)[:-5]
        server, clients, _ = name.split("-")
        try:
            with open(path) as f:
                run = json.load(f)
        except ValueError:
            continue  # a run still being written
        runs.setdefault((server, int(clients[1:])), []).append(run)
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    rows, tps = [], {}
    for (server, clients) in sorted(runs):
        rs = runs[(server, clients)]
        t = med([r["tokens_per_s"] for r in rs])
        tps[(server, clients)] = t
        rows.append(
            f"| {server} | {clients} | {len(rs)} | {t:.1f} ({min(r['tokens_per_s'] for r in rs):.1f}–"
            f"{max(r['tokens_per_s'] for r in rs):.1f}) | {med([r['ttft_ms']['p50'] for r in rs]):.0f} / "
            f"{med([r['ttft_ms']['p99'] for r in rs]):.0f} | {med([r['itl_ms']['p50'] for r in rs]):.1f} / "
            f"{med([r['itl_ms']['p99'] for r in rs]):.1f} | {sum(r['errors'] for r in rs)} | "
            f"{sum(r['short_answers'] for r in rs)} | {100 * med([r['loadgen_cpu_fraction'] for r in rs]):.1f}% |")
    print("| server | clients | rounds | generated tok/s, median (range) | TTFT p50 / p99 ms | ITL p50 / p99 ms "
          "| errors | short answers | load generator CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    for server in ("dolly", "llama"):
        if (server, 1) in tps and (server, 4) in tps:
            print(f"- {server}: 4 streams / 1 stream = {tps[(server, 4)] / tps[(server, 1)]:.2f}x")
    for c in (1, 4):
        if ("dolly", c) in tps and ("llama", c) in tps:
            print(f"- {c} client(s): dolly / llama-server = {tps[('dolly', c)] / tps[('llama', c)]:.2f}x")


if __name__ == "__main__":
    main()
