#!/usr/bin/env python3
"""Structured output, judged by a reference validator: N sampled generations (temperature 1, Dolly's
default top_p) under each schema of tools/bench/schemas and under `json_object`, through `dolly serve`'s
OpenAI API; every answer must parse with Python's `json` and validate with the `jsonschema` package
(PyPI; formats checked with its FormatChecker). The tool-call case sends tools.json's three functions
as `tools` with `tool_choice: "required"` and validates the returned `tool_calls[0]`: a known name and
arguments that validate against that function's parameters.

    tools/.venv/bin/pip install jsonschema
    tools/.venv/bin/python tools/bench/structured_validity.py --dolly .build/release/dolly -n 200

Prints one line per schema (valid / total, finish reasons, mean completion tokens, seconds) and
exits 1 when any answer is invalid.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import jsonschema

HERE = os.path.dirname(os.path.realpath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCHEMAS = os.path.join(HERE, "schemas")

PROMPTS = {
    "flat": "Describe a person: their name, mood and age.",
    "nested": "Describe a pet owner and their pets.",
    "anyof": "Report the result of a measurement and some tags.",
    "pattern": "Make up a product record: its SKU, a contact email, a date and a short note.",
    "tools": "What is the weather in Paris in celsius?",
    "json_object": "Describe the city of Lyon as a JSON object.",
}


def start_server(dolly, model, parallel):
    proc = subprocess.Popen([dolly, "serve", "--model", model, "--port", "0", "--parallel", str(parallel)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    ready = threading.Event()

    def drain():
        nonlocal url
        for line in proc.stderr:
            if "listening on http://" in line and url is None:
                url = line.strip().split("listening on ")[1].split()[0]
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(120) or url is None:
        proc.kill()
        sys.exit("structured_validity.py: the server did not start")
    return proc, url


def post(base, body):
    request = urllib.request.Request(base + "/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"structured_validity.py: HTTP {e.code}: {e.read().decode(errors='replace')}")


def tool_definitions():
    """tools.json's `$defs`: one entry per function, {"name": {"const": N}, "arguments": SCHEMA}."""
    with open(os.path.join(SCHEMAS, "tools.json")) as f:
        defs = json.load(f)["$defs"]
    return [{"type": "function", "function": {"name": d["properties"]["name"]["const"],
                                              "parameters": d["properties"]["arguments"]}} for d in defs.values()]


def cases():
    for name in ["flat", "nested", "anyof", "pattern"]:
        with open(os.path.join(SCHEMAS, name + ".json")) as f:
            schema = json.load(f)
        yield name, {"response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}}, schema
    yield "tools", {"tools": tool_definitions(), "tool_choice": "required"}, None
    yield "json_object", {"response_format": {"type": "json_object"}}, {"type": "object"}


def judge(name, schema, reply):
    """(valid, finish_reason, completion tokens, why)."""
    choice = reply["choices"][0]
    finish, tokens = choice["finish_reason"], reply["usage"]["completion_tokens"]
    message = choice["message"]
    try:
        if name == "tools":
            calls = message.get("tool_calls") or []
            if len(calls) != 1:
                return False, finish, tokens, f"expected one tool call, got {message!r}"
            function = calls[0]["function"]
            known = {t["function"]["name"]: t["function"]["parameters"] for t in tool_definitions()}
            if function["name"] not in known:
                return False, finish, tokens, f"unknown function {function['name']!r}"
            arguments = json.loads(function["arguments"])
            jsonschema.validate(arguments, known[function["name"]], format_checker=jsonschema.FormatChecker())
            return finish == "tool_calls", finish, tokens, "" if finish == "tool_calls" else "finish_reason"
        value = json.loads(message["content"])
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        return True, finish, tokens, ""
    except (json.JSONDecodeError, jsonschema.ValidationError, KeyError, TypeError) as e:
        return False, finish, tokens, f"{type(e).__name__}: {str(e)[:160]} in {json.dumps(message)[:300]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dolly", default=os.path.join(ROOT, ".build/release/dolly"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models/dolly-demo"))
    ap.add_argument("--base-url", help="a running server instead of starting one")
    ap.add_argument("-n", type=int, default=200, help="generations per schema")
    ap.add_argument("--parallel", type=int, default=4, help="server slots and concurrent requests")
    ap.add_argument("--max-tokens", type=int, help="default: what the context leaves (at most 256)")
    ap.add_argument("--only", help="comma-separated schema names")
    args = ap.parse_args()

    proc = None
    base = args.base_url
    if base is None:
        proc, base = start_server(args.dolly, args.model, args.parallel)
    failures = 0
    try:
        print(f"{'schema':12} {'valid':>9} {'finish reasons':28} {'tokens':>7} {'seconds':>8}")
        for name, fields, schema in cases():
            if args.only and name not in args.only.split(","):
                continue
            started = time.time()
            limit = {"max_tokens": args.max_tokens} if args.max_tokens else {}
            bodies = [{"messages": [{"role": "user", "content": PROMPTS[name]}], "temperature": 1, "seed": seed,
                       **limit, **fields} for seed in range(1, args.n + 1)]
            with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
                verdicts = list(pool.map(lambda b: judge(name, schema, post(base, b)), bodies))
            valid = sum(v[0] for v in verdicts)
            reasons = {}
            for v in verdicts:
                reasons[v[1]] = reasons.get(v[1], 0) + 1
            tokens = sum(v[2] for v in verdicts) / len(verdicts)
            print(f"{name:12} {valid:>4}/{len(verdicts):<4} {json.dumps(reasons):28} {tokens:7.1f} {time.time() - started:8.1f}")
            for v in verdicts:
                if not v[0]:
                    failures += 1
                    if failures <= 10:
                        print("   INVALID:", v[3])
    finally:
        if proc:
            proc.terminate()
            proc.wait()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
