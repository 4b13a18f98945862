#!/usr/bin/env python3
"""Time to first token of a conversation's later turns: `dolly serve` reusing its slot's cache against
the same server recomputing every prompt (`--no-prefix-cache`).

A chat client sends the whole history every turn (/v1/chat/completions). The server writes earlier
exchanges as Dolly's training records in order (README "Serving": how a history maps to Dolly's
prompt), so turn N's prompt begins with turn N-1's prompt and answer, and a slot that served turn
N-1 evaluates only the new turn.

Two servers from the same file run side by side (--parallel 1, --threads, --context), one with the
prefix cache (the default), one with --no-prefix-cache; each is idle while the other is measured.
Setup: turns 1..T-1 of a greedy conversation on the caching server (user messages of about
--question-words words of Tests/Fixtures/heldout.txt, answers of --answer-tokens tokens), recording
their TTFT and cached tokens. Then --rounds rounds of: the caching server answers turn T-1 again
(greedy, so the same answer: its slot again holds that prompt and answer, as after a real turn T-1),
then turn T is timed on it, then turn T on the recomputing server. TTFT is from sending the request
to the first streamed chunk carrying a token (`logprobs` on, so even a token whose text is held back
counts). Medians over rounds, the ratio, and the prompt and cached token counts (usage's
prompt_tokens_details.cached_tokens).

    tools/.venv/bin/python tools/bench/conversation_ttft.py --model /tmp/3b-q4.dolly --dolly .build/release/dolly
"""
import argparse
import json
import os
import statistics
import sys
import time
import http.client
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import FIXTURES, ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools", "ci"))
from serve_process import Server  # noqa: E402


def questions(count, words):
    """User messages: consecutive slices of the held-out text, each ending with a question."""
    text = open(os.path.join(FIXTURES, "heldout.txt"), encoding="utf-8").read().split()
    out = []
    for i in range(count):
        chunk = " ".join(text[i * words:(i + 1) * words])
        out.append(f"Here is part {i + 1} of a story: {chunk}\nWhat happens in this part, and why?")
    return out


def chat(url, messages, max_tokens):
    """One streamed greedy chat request: (TTFT seconds, answer text, usage)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"messages": messages, "temperature": 0, "max_tokens": max_tokens, "stream": True,
                       "logprobs": True, "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}: {response.read()[:300]!r}")
    ttft, text, usage = None, "", None
    for raw in response:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            raise RuntimeError(event["error"])
        if event.get("usage"):
            usage = event["usage"]
        for choice in event.get("choices", []):
            if ttft is None and (choice.get("logprobs") or {}).get("content"):
                ttft = time.perf_counter() - start
            text += choice.get("delta", {}).get("content") or ""
    conn.close()
    return ttft, text, usage


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dolly", default=os.path.join(ROOT, ".build", "release", "dolly"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--question-words", type=int, default=60)
    parser.add_argument("--answer-tokens", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()

    common = ["--parallel", "1", "--threads", str(args.threads), "--context", str(args.context)]
    cached_server = Server(args.dolly, args.model, extra=common, timeout=600)
    plain_server = Server(args.dolly, args.model, extra=common + ["--no-prefix-cache"], timeout=600)
    try:
        asks = questions(args.turns, args.question_words)
        messages, setup = [], []
        for t in range(args.turns - 1):
            messages.append({"role": "user", "content": asks[t]})
            ttft, answer, usage = chat(cached_server.url, messages, args.answer_tokens)
            setup.append({"turn": t + 1, "ttft": ttft, "prompt_tokens": usage["prompt_tokens"],
                          "cached_tokens": usage["prompt_tokens_details"]["cached_tokens"],
                          "answer_tokens": usage["completion_tokens"]})
            print(f"setup turn {t + 1}: TTFT {ttft:.3f} s, prompt {usage['prompt_tokens']}, "
                  f"cached {setup[-1]['cached_tokens']}, answer {usage['completion_tokens']} tokens", flush=True)
            messages.append({"role": "assistant", "content": answer})
        previous = messages[:-1]
        last_answer = messages[-1]["content"]
        messages.append({"role": "user", "content": asks[-1]})
        rounds = []
        for r in range(args.rounds):
            _, again, _ = chat(cached_server.url, previous, args.answer_tokens)
            if again != last_answer:
                raise RuntimeError("the greedy answer to the previous turn changed: the slot would not hold it")
            with_cache, _, u1 = chat(cached_server.url, messages, 1)
            without, _, u2 = chat(plain_server.url, messages, 1)
            rounds.append({"cached_ttft": with_cache, "recomputed_ttft": without, "prompt_tokens": u1["prompt_tokens"],
                           "cached_tokens": u1["prompt_tokens_details"]["cached_tokens"],
                           "recomputed_cached_tokens": u2["prompt_tokens_details"]["cached_tokens"]})
            print(f"round {r + 1}: turn {args.turns} TTFT {with_cache:.3f} s with the cache "
                  f"({rounds[-1]['cached_tokens']} of {u1['prompt_tokens']} tokens cached), {without:.3f} s recomputed",
                  flush=True)
    finally:
        cached_server.stop()
        plain_server.stop()
    a = statistics.median(x["cached_ttft"] for x in rounds)
    b = statistics.median(x["recomputed_ttft"] for x in rounds)
    print(f"turn {args.turns}: prompt {rounds[0]['prompt_tokens']} tokens, {rounds[0]['cached_tokens']} cached; "
          f"TTFT median {a:.3f} s (range {min(x['cached_ttft'] for x in rounds):.3f}-{max(x['cached_ttft'] for x in rounds):.3f}) "
          f"with the cache, {b:.3f} s (range {min(x['recomputed_ttft'] for x in rounds):.3f}-"
          f"{max(x['recomputed_ttft'] for x in rounds):.3f}) recomputed: {b / a:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "setup": setup, "rounds": rounds, "median_cached": a, "median_recomputed": b,
                       "ratio": b / a}, f, indent=1)


if __name__ == "__main__":
    main()
