#!/usr/bin/env python3
"""Load generator for OpenAI-compatible servers (`dolly serve`, llama.cpp's `llama-server`): throughput
and latency of streamed greedy completions under N concurrent clients.

Each of --clients threads sends --requests requests, one after the other, each on a new connection,
to POST /v1/completions with `"stream": true`, `"temperature": 0`, --max-tokens and a fixed
raw prompt (--prompt, --prompt-file, or a fixed English paragraph), plus
`"stream_options": {"include_usage": true}` and --extra-json merged over the body. --warmup K requests
go first, one at a time, and are not measured. Standard library only (http.client and threads), so
the generator's own CPU use stays small; it reports it.

Per request: time to first token (TTFT: to the first event with non-empty text), inter-token
latencies (ITL: between successive events with text; an event is counted as one token), completion
tokens (`usage.completion_tokens` when the server sends it, else the events), errors (a status other
than 200, an `error` event, a broken connection or timeout). Overall: completion tokens / wall time
(first request's start to last request's end), requests/s, TTFT and ITL p50/p99, errors, and the
generator's CPU time (getrusage user + sys) as a fraction of the wall time.

    .build/release/dolly serve --model models/dolly-demo --parallel 4 --port 8080 &
    python3 tools/bench/serve_load.py --url http://127.0.0.1:8080 --clients 4 --requests 3
    llama-server -m model.gguf --parallel 4 --port 8081 &
    python3 tools/bench/serve_load.py --url http://127.0.0.1:8081 --clients 4 --requests 3 \\
        --extra-json '{"ignore_eos": true}' --json > llama.json

For equal work on both servers, make every answer --max-tokens long: `{"ignore_eos": true}` for
llama-server; dolly has no such field, so pick a prompt its answers do not end early on (the summary
counts answers shorter than --max-tokens; the demo model ends the default paragraph after a few
tokens, `--prompt "The history of the city"` runs the full length). Treat prompt caching alike: both
reuse a cached prefix by default (`dolly serve --no-prefix-cache`, `{"cache_prompt": false}` turn
it off).
"""
import argparse
import json
import os
import resource
import sys
import threading
import time
import http.client
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402,F401  (the tools/ convention; paths are the caller's)

DEFAULT_PROMPT = (
    "The river begins high in the mountains, where snow melts each spring and runs down through narrow "
    "valleys of pine and stone. By the time it reaches the plain it is wide and slow, and the towns along "
    "its banks have used it for centuries to carry grain, timber and people to the sea. In the old harbour, "
    "fishermen still mend their nets on the quay every morning, and the market opens at dawn. Travellers "
    "who arrive by boat are often surprised by how quiet the city is")


class Result:
    """One request's measurements (seconds, from time.perf_counter)."""

    def __init__(self, client, index):
        self.client, self.index = client, index
        self.start = self.end = self.first = None
        self.content_times = []
        self.usage = None
        self.events = 0
        self.finish_reason = None
        self.error = None
        self.text_chars = 0

    @property
    def tokens(self):
        if self.usage and isinstance(self.usage.get("completion_tokens"), int):
            return self.usage["completion_tokens"]
        return len(self.content_times)

    @property
    def ttft(self):
        return None if self.first is None else self.first - self.start

    @property
    def itls(self):
        t = self.content_times
        return [b - a for a, b in zip(t, t[1:])]

    def as_dict(self):
        return {"client": self.client, "index": self.index, "start": self.start, "end": self.end,
                "ttft": self.ttft, "content_events": len(self.content_times), "tokens": self.tokens,
                "usage": self.usage, "finish_reason": self.finish_reason, "error": self.error}


class Client:
    """The connection of one client thread (a new one per request)."""

    def __init__(self, url, headers, timeout):
        self.url, self.headers, self.timeout = url, headers, timeout
        self.conn = None

    def connect(self):
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(self.url.hostname, self.url.port or (443 if self.url.scheme == "https" else 80),
                        timeout=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, path, body, result):
        data = json.dumps(body).encode()
        result.start = time.perf_counter()
        try:
            if self.conn is None:
                self.connect()
            self.conn.request("POST", path, body=data, headers=self.headers)
            response = self.conn.getresponse()
            if response.status != 200:
                text = response.read().decode("utf-8", "replace")
                result.error = f"HTTP {response.status}: {text[:300]}"
            else:
                self.read_events(response, result)
                if not result.error:
                    response.read()  # the rest after [DONE] (the chunked body's end)
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as e:
            result.error = f"{type(e).__name__}: {e}"
            self.close()
        result.end = time.perf_counter()
        # A new connection per request: llama-server may close a kept-alive one after a stream, and
        # treating both servers alike matters more than the ~0.1 ms a loopback connect costs.
        self.close()

    @staticmethod
    def read_events(response, result):
        """Server-sent events: `data: JSON` lines, blank lines between events, `data: [DONE]` last."""
        buffer, data_lines = b"", []
        while True:
            chunk = response.read1(65536)
            now = time.perf_counter()
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                line = line.rstrip(b"\r")
                if line.startswith(b"data:"):
                    data_lines.append(line[5:].lstrip(b" "))
                elif not line and data_lines:
                    payload = b"\n".join(data_lines)
                    data_lines = []
                    if payload == b"[DONE]":
                        return
                    Client.event(payload, now, result)
                    if result.error:
                        return
                # other fields (event:, id:, comments) carry nothing here
        if data_lines and data_lines != [b"[DONE]"]:
            Client.event(b"\n".join(data_lines), time.perf_counter(), result)

    @staticmethod
    def event(payload, now, result):
        result.events += 1
        try:
            event = json.loads(payload)
        except ValueError:
            result.error = f"not JSON: {payload[:200]!r}"
            return
        if not isinstance(event, dict):
            return
        if event.get("error"):
            result.error = f"error event: {json.dumps(event['error'])[:300]}"
            return
        if isinstance(event.get("usage"), dict):
            result.usage = event["usage"]
        for choice in event.get("choices") or []:
            text = choice.get("text")
            if text is None:  # chat's shape
                text = (choice.get("delta") or {}).get("content")
            if text:
                if result.first is None:
                    result.first = now
                result.content_times.append(now)
                result.text_chars += len(text)
            if choice.get("finish_reason"):
                result.finish_reason = choice["finish_reason"]


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    v = sorted(values)
    x = (len(v) - 1) * p / 100
    lo = int(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)


def run(args, body, path, headers, url):
    """Warm-up, then the measured phase; returns (results, wall, cpu)."""
    warm = Client(url, headers, args.timeout)
    for i in range(args.warmup):
        r = Result(-1, i)
        warm.request(path, body, r)
        if r.error:
            print(f"warm-up request {i}: {r.error}", file=sys.stderr)
    warm.close()

    results = [[Result(c, i) for i in range(args.requests)] for c in range(args.clients)]
    barrier = threading.Barrier(args.clients + 1)

    models = args.models.split(",") if args.models else None

    def client(c):
        conn = Client(url, headers, args.timeout)
        mine = dict(body, model=models[c % len(models)]) if models else body
        barrier.wait()
        for r in results[c]:
            conn.request(path, mine, r)
        conn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(args.clients)]
    for t in threads:
        t.start()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    barrier.wait()
    for t in threads:
        t.join()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    flat = [r for rs in results for r in rs]
    wall = max(r.end for r in flat) - min(r.start for r in flat)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return flat, wall, cpu


def summarize(args, body, url, path, results, wall, cpu):
    ok = [r for r in results if not r.error]
    tokens = sum(r.tokens for r in ok)
    ttfts = [r.ttft for r in ok if r.ttft is not None]
    itls = [x for r in ok for x in r.itls]
    decode = [(len(r.content_times) - 1) / (r.content_times[-1] - r.content_times[0])
              for r in ok if len(r.content_times) > 1 and r.content_times[-1] > r.content_times[0]]
    with_usage = [r for r in ok if r.usage]
    finish = {}
    for r in ok:
        finish[r.finish_reason] = finish.get(r.finish_reason, 0) + 1
    ms = lambda s: None if s is None else s * 1000  # noqa: E731
    return {
        "url": f"{url.scheme}://{url.netloc}", "path": path, "clients": args.clients, "requests_per_client": args.requests,
        "warmup": args.warmup, "max_tokens": args.max_tokens, "body": body,
        "requests": len(results), "errors": len(results) - len(ok),
        "error_samples": sorted({r.error for r in results if r.error})[:5],
        "wall_s": wall,
        "completion_tokens": tokens,
        "tokens_from_usage": len(with_usage) == len(ok) and bool(ok),
        "content_events": sum(len(r.content_times) for r in ok),
        "prompt_tokens": sum(r.usage.get("prompt_tokens", 0) for r in with_usage) if with_usage else None,
        "tokens_per_s": tokens / wall if wall > 0 else None,
        "requests_per_s": len(ok) / wall if wall > 0 else None,
        "ttft_ms": {"p50": ms(percentile(ttfts, 50)), "p99": ms(percentile(ttfts, 99)),
                    "max": ms(max(ttfts) if ttfts else None)},
        "itl_ms": {"p50": ms(percentile(itls, 50)), "p99": ms(percentile(itls, 99)),
                   "max": ms(max(itls) if itls else None)},
        "per_request_decode_tokens_per_s": {"p50": percentile(decode, 50), "min": min(decode) if decode else None},
        "finish_reasons": finish,
        "short_answers": sum(1 for r in ok if r.tokens < args.max_tokens),
        "loadgen_cpu_s": cpu,
        "loadgen_cpu_fraction": cpu / wall if wall > 0 else None,
        "per_request": [r.as_dict() for r in results],
    }


def human(s):
    f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    lines = [
        f"{s['url']}{s['path']}: {s['clients']} clients x {s['requests_per_client']} requests "
        f"(+{s['warmup']} warm-up), max_tokens {s['max_tokens']}",
        f"  requests        {s['requests'] - s['errors']} ok, {s['errors']} errors"
        + (f" (e.g. {s['error_samples'][0]})" if s["error_samples"] else ""),
        f"  wall            {s['wall_s']:.3f} s",
        f"  tokens          {s['completion_tokens']} completion ("
        + ("usage" if s["tokens_from_usage"] else "counted events") + f"), {s['content_events']} content events"
        + (f", {s['prompt_tokens']} prompt" if s["prompt_tokens"] is not None else ""),
        f"  throughput      {f(s['tokens_per_s'], '.1f')} tokens/s, {f(s['requests_per_s'], '.2f')} requests/s",
        f"  TTFT            p50 {f(s['ttft_ms']['p50'], '.1f')} ms, p99 {f(s['ttft_ms']['p99'], '.1f')} ms, "
        f"max {f(s['ttft_ms']['max'], '.1f')} ms",
        f"  ITL             p50 {f(s['itl_ms']['p50'], '.2f')} ms, p99 {f(s['itl_ms']['p99'], '.2f')} ms, "
        f"max {f(s['itl_ms']['max'], '.2f')} ms",
        f"  per request     decode p50 {f(s['per_request_decode_tokens_per_s']['p50'], '.1f')} tokens/s "
        f"(min {f(s['per_request_decode_tokens_per_s']['min'], '.1f')})",
        f"  finish_reason   {s['finish_reasons']}"
        + (f"; {s['short_answers']} of {s['requests'] - s['errors']} answers ended before max_tokens (unequal work: "
           "another prompt, or ignore_eos where the server has it)" if s["short_answers"] else ""),
        f"  load generator  {s['loadgen_cpu_s']:.3f} s CPU = {100 * s['loadgen_cpu_fraction']:.1f}% of one core",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--url", default="http://127.0.0.1:8080",
                        help="the server's root (default: %(default)s); a trailing /v1 is fine")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=3, help="sequential requests per client (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured requests first, one at a time (default: %(default)s)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--prompt", help="the raw prompt (default: a fixed English paragraph)")
    group.add_argument("--prompt-file", help="read the raw prompt from this UTF-8 file")
    parser.add_argument("--max-tokens", type=int, default=128, help="max_tokens per request (default: %(default)s)")
    parser.add_argument("--model", help='the "model" field (default: none; both servers serve one model)')
    parser.add_argument("--models", help='comma-separated "model" fields, client c taking number c mod their count '
                                         '(dolly serve\'s adapters: base+one,base+two,...); overrides --model')
    parser.add_argument("--extra-json", default="{}",
                        help='a JSON object merged over the request body, e.g. \'{"ignore_eos": true}\'')
    parser.add_argument("--no-usage", action="store_true", help="leave out stream_options (count events as tokens)")
    parser.add_argument("--api-key", help="send Authorization: Bearer KEY")
    parser.add_argument("--timeout", type=float, default=600, help="socket timeout per request, seconds (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object instead of the summary")
    args = parser.parse_args()
    if args.clients < 1 or args.requests < 1 or args.warmup < 0 or args.max_tokens < 1:
        parser.error("--clients, --requests and --max-tokens must be >= 1, --warmup >= 0")

    if args.prompt_file:
        with open(args.prompt_file, encoding="utf-8") as f:
            prompt = f.read()
    else:
        prompt = args.prompt if args.prompt is not None else DEFAULT_PROMPT
    try:
        extra = json.loads(args.extra_json)
    except ValueError as e:
        parser.error(f"--extra-json: {e}")
    if not isinstance(extra, dict):
        parser.error("--extra-json must be a JSON object")

    url = urllib.parse.urlsplit(args.url.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.hostname:
        parser.error(f"--url: {args.url!r} is not an http(s) URL")
    root = url.path[:-3] if url.path.endswith("/v1") else url.path
    path = root + "/v1/completions"
    body = {"prompt": prompt, "max_tokens": args.max_tokens, "temperature": 0, "stream": True}
    if not args.no_usage:
        body["stream_options"] = {"include_usage": True}
    if args.model:
        body["model"] = args.model
    body.update(extra)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if args.api_key:
        headers["Authorization"] = f"Bearer {args.api_key}"

    results, wall, cpu = run(args, body, path, headers, url)
    summary = summarize(args, body, url, path, results, wall, cpu)
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print(human(summary))
    sys.exit(1 if summary["errors"] else 0)


if __name__ == "__main__":
    main()
