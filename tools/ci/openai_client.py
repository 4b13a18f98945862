#!/usr/bin/env python3
"""`dolly serve` through the official `openai` Python package: does a real client read every answer?

Starts `dolly serve` on a free port (or uses a running server with --base-url), then, with
`openai.OpenAI(base_url=..., api_key="x")` and greedy decoding (temperature 0), checks:

  - models.list() names the model;
  - chat and completions, non-streaming and streaming: the streamed text, finish_reason and usage
    (stream_options.include_usage) equal the non-streamed ones;
  - every non-streamed body (and every chat chunk) validates against the package's own pydantic
    types (the client itself builds them without validation, so it would not notice a wrong shape);
  - stop strings (chosen from the greedy answer): the text is the answer up to the stop string,
    without it, finish_reason "stop", streamed and not;
  - max_tokens: finish_reason "length" with exactly that many completion tokens;
  - logprobs: completions' top 2 (the greedy token is the most likely one, tokens join to the text),
    the prompt's with echo=True and max_tokens=0 (first token_logprob None, the rest floats), chat's
    top_logprobs;
  - 4 concurrent streams give the sequential answer;
  - structured output: `chat.completions.parse` with a Pydantic model, `response_format` json_object,
    llama-server's `json_schema` and `grammar` (extra_body); tools with tool_choice required and named,
    `tool_calls` streamed and not (the fragments join to the same arguments), then a tool result;
    fields the server does not implement (prediction, functions, audio) raise BadRequestError;
  - temperature=-1 raises openai.BadRequestError (400, param "temperature");
  - the greedy chat answer equals `dolly run --greedy` and the raw completion `dolly run --raw --greedy`;
  - a second server with `--api-key k`: a wrong key raises openai.AuthenticationError, the right
    key works, /health needs none;
  - each server it started exits 0 on SIGINT.

One line per check (PASS/FAIL); the exit status is 1 when any failed. Needs `pip install openai` in
tools/.venv:

    tools/.venv/bin/python tools/ci/openai_client.py
    tools/.venv/bin/python tools/ci/openai_client.py --dolly .build/debug/dolly --model models/dolly-demo
    tools/.venv/bin/python tools/ci/openai_client.py --base-url http://127.0.0.1:8080/v1 --model FILE

With --base-url, --model must be the file the server serves (for the `dolly run` comparisons), and
the API-key check still starts its own server from --dolly (--skip-auth leaves it out).
"""
import argparse
import json
import os
import re
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))  # tools/ci
from serve_process import CheckFailed, Runner, Server, dolly_run, expect  # noqa: E402,F401

from typing import Annotated, Literal  # noqa: E402

try:
    import openai  # noqa: E402
    import pydantic  # noqa: E402  (the openai package depends on it)
    from openai.types import Completion, Model  # noqa: E402
    from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402
except ImportError:
    sys.exit("openai_client.py: needs the openai package: tools/.venv/bin/pip install openai")

INSTRUCTION = "Write a short poem about the sea."
RAW_PROMPT = "The history of the city"


def validate(model_type, data, what):
    """The raw JSON against the package's pydantic type (the client constructs without validating)."""
    try:
        return model_type.model_validate(data)
    except Exception as e:  # pydantic.ValidationError
        raise CheckFailed(f"{what} does not validate as openai.types.{model_type.__name__}: {e}\nbody: {json.dumps(data)}")


def raw_create(resource, **kwargs):
    """One request: the package's parsed object and the raw JSON body."""
    response = resource.with_raw_response.create(**kwargs)
    return response.parse(), response.http_response.json()


def pick_stop(text):
    """A word of `text` (with its leading space) from its middle whose first occurrence is not at
    the start, and where it occurs: the answer with that stop string is text[:index]."""
    words = re.findall(r" \w+", text)
    k = len(words) // 3
    for word in words[k:] + words[:k]:
        i = text.find(word)
        if i > 0:
            return word, i
    raise CheckFailed(f"no usable stop string in the greedy answer {text!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Checks: see the module docstring (the script's head).")
    parser.add_argument("--dolly", default=".build/release/dolly", help="the dolly binary (default: %(default)s)")
    parser.add_argument("--model", default="models/dolly-demo", help="the model to serve (default: %(default)s)")
    parser.add_argument("--base-url", help="a running server's API root (e.g. http://127.0.0.1:8080/v1) instead of starting one")
    parser.add_argument("--model-name", help="with --base-url: the model id (default: the first /v1/models lists)")
    parser.add_argument("--max-tokens", type=int, default=48, help="tokens per greedy answer (default: %(default)s)")
    parser.add_argument("--skip-auth", action="store_true", help="leave out the --api-key server check")
    args = parser.parse_args()

    os.chdir(ROOT)  # relative --dolly and --model are the repository's
    dolly, model_path, n = os.path.abspath(args.dolly), os.path.abspath(args.model), args.max_tokens
    if not os.path.exists(dolly):
        sys.exit(f"openai_client.py: no dolly binary at {dolly} (swift build -c release, or --dolly)")

    servers, runner = [], Runner()
    try:
        if args.base_url:
            base_url = args.base_url.rstrip("/")
        else:
            server = Server(dolly, model_path)
            servers.append(server)
            base_url = server.url + "/v1"
        print(f"server: {base_url}", flush=True)
        client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=300)
        name = args.model_name
        if name is None and not args.base_url:
            name = re.sub(r"\.dolly$", "", os.path.basename(model_path.rstrip("/")))
        if name is None:
            name = client.models.list().data[0].id

        cache = {}

        def once(key, fn):
            """One request shared by the checks that compare against it."""
            if key not in cache:
                cache[key] = fn()
            return cache[key]

        messages = [{"role": "user", "content": INSTRUCTION}]

        def chat(**kw):
            kw.setdefault("temperature", 0)
            return raw_create(client.chat.completions, model=name, messages=messages, **kw)

        def complete(**kw):
            kw.setdefault("temperature", 0)
            return raw_create(client.completions, model=name, prompt=RAW_PROMPT, **kw)

        greedy_chat = lambda: once("chat", lambda: chat(max_tokens=n))[0]  # noqa: E731
        greedy_completion = lambda: once("completion", lambda: complete(max_tokens=n))[0]  # noqa: E731

        def usage_ok(usage, what):
            expect(usage is not None, f"{what}: no usage")
            expect(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
                   f"{what}: total_tokens {usage.total_tokens} != prompt {usage.prompt_tokens} + completion {usage.completion_tokens}")

        def stream_chat(**kw):
            """The streamed chat answer: text, finish_reason, usage, chunk count; every chunk validated."""
            text, finish, usage, ids, chunks = "", None, None, set(), 0
            stream = client.chat.completions.create(model=name, messages=messages, temperature=0, stream=True,
                                                    stream_options={"include_usage": True}, **kw)
            for chunk in stream:
                chunks += 1
                validate(ChatCompletionChunk, chunk.to_dict(), f"chat chunk {chunks}")
                ids.add(chunk.id)
                expect(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object!r}")
                if chunks == 1:
                    expect(chunk.choices and chunk.choices[0].delta.role == "assistant",
                           f"first chunk's delta has no role assistant: {chunk.to_json(indent=None)}")
                for choice in chunk.choices:
                    text += choice.delta.content or ""
                    finish = choice.finish_reason or finish
                usage = chunk.usage or usage
            expect(len(ids) == 1, f"chunk ids differ: {sorted(ids)}")
            return text, finish, usage, chunks

        def stream_completion(**kw):
            text, finish, usage, chunks = "", None, None, 0
            stream = client.completions.create(model=name, prompt=kw.pop("prompt", RAW_PROMPT), temperature=0,
                                               stream=True, stream_options={"include_usage": True}, **kw)
            for chunk in stream:
                chunks += 1
                expect(chunk.object == "text_completion", f"chunk object {chunk.object!r}")
                for choice in chunk.choices:
                    text += choice.text
                    finish = choice.finish_reason or finish
                usage = chunk.usage or usage
            return text, finish, usage, chunks

        # --- models
        def models():
            raw = client.models.with_raw_response.list()
            body = raw.http_response.json()
            expect(body.get("object") == "list", f"object {body.get('object')!r}, not 'list'")
            for entry in body["data"]:
                validate(Model, entry, "a /v1/models entry")
            ids = [m.id for m in client.models.list()]
            expect(name in ids, f"{name!r} not in {ids}")
            return f"{ids}"
        runner.check("models.list() names the model", models)

        # --- chat
        def chat_plain():
            out, body = once("chat", lambda: chat(max_tokens=n))
            validate(ChatCompletion, body, "the chat completion")
            expect(out.object == "chat.completion", f"object {out.object!r}")
            choice = out.choices[0]
            expect(choice.message.role == "assistant", f"role {choice.message.role!r}")
            expect(choice.message.content, "empty answer")
            expect(choice.finish_reason in ("stop", "length"), f"finish_reason {choice.finish_reason!r}")
            usage_ok(out.usage, "chat")
            return f"{out.usage.completion_tokens} tokens, {choice.finish_reason}: {choice.message.content!r}"
        runner.check("chat non-streaming (greedy)", chat_plain)

        def chat_stream():
            whole = greedy_chat()
            text, finish, usage, chunks = stream_chat(max_tokens=n)
            expect(text == whole.choices[0].message.content, f"streamed {text!r} != {whole.choices[0].message.content!r}")
            expect(finish == whole.choices[0].finish_reason, f"finish_reason {finish!r} != {whole.choices[0].finish_reason!r}")
            usage_ok(usage, "stream_options.include_usage")
            expect(usage.completion_tokens == whole.usage.completion_tokens and usage.prompt_tokens == whole.usage.prompt_tokens,
                   f"usage {usage} != {whole.usage}")
            return f"{chunks} chunks"
        runner.check("chat streaming = non-streaming", chat_stream)

        # --- completions
        def completion_plain():
            out, body = once("completion", lambda: complete(max_tokens=n))
            validate(Completion, body, "the completion")
            expect(out.object == "text_completion", f"object {out.object!r}")
            choice = out.choices[0]
            expect(choice.text, "empty completion")
            expect(choice.finish_reason in ("stop", "length"), f"finish_reason {choice.finish_reason!r}")
            usage_ok(out.usage, "completion")
            return f"{out.usage.completion_tokens} tokens, {choice.finish_reason}: {choice.text!r}"
        runner.check("completions non-streaming (greedy)", completion_plain)

        def completion_stream():
            whole = greedy_completion()
            text, finish, usage, chunks = stream_completion(max_tokens=n)
            expect(text == whole.choices[0].text, f"streamed {text!r} != {whole.choices[0].text!r}")
            expect(finish == whole.choices[0].finish_reason, f"finish_reason {finish!r} != {whole.choices[0].finish_reason!r}")
            usage_ok(usage, "stream_options.include_usage")
            expect(usage.completion_tokens == whole.usage.completion_tokens, f"usage {usage} != {whole.usage}")
            return f"{chunks} chunks"
        runner.check("completions streaming = non-streaming", completion_stream)

        # --- stop strings
        def chat_stop():
            answer = greedy_chat().choices[0].message.content
            stop, at = pick_stop(answer)
            out, body = chat(max_tokens=n, stop=[stop])
            validate(ChatCompletion, body, "the chat completion")
            text = out.choices[0].message.content
            expect(stop not in text, f"stop {stop!r} in {text!r}")
            expect(out.choices[0].finish_reason == "stop", f"finish_reason {out.choices[0].finish_reason!r}")
            expect(text.strip() == answer[:at].strip(), f"{text!r} is not the answer up to {stop!r}: {answer[:at]!r}")
            streamed, finish, _, _ = stream_chat(max_tokens=n, stop=[stop])
            expect(streamed == text and finish == "stop", f"streamed {streamed!r} ({finish}) != {text!r} (stop)")
            return f"stop={stop!r}: {text!r}"
        runner.check("chat stop string (non-streaming and streaming)", chat_stop)

        def completion_stop():
            answer = greedy_completion().choices[0].text
            stop, at = pick_stop(answer)
            out, body = complete(max_tokens=n, stop=stop)
            validate(Completion, body, "the completion")
            text = out.choices[0].text
            expect(stop not in text, f"stop {stop!r} in {text!r}")
            expect(out.choices[0].finish_reason == "stop", f"finish_reason {out.choices[0].finish_reason!r}")
            expect(text == answer[:at], f"{text!r} is not the answer up to {stop!r}: {answer[:at]!r}")
            streamed, finish, _, _ = stream_completion(max_tokens=n, stop=stop)
            expect(streamed == text and finish == "stop", f"streamed {streamed!r} ({finish}) != {text!r} (stop)")
            return f"stop={stop!r}: {text!r}"
        runner.check("completions stop string (non-streaming and streaming)", completion_stop)

        # --- max_tokens
        def length():
            out, _ = chat(max_tokens=3)
            expect(out.choices[0].finish_reason == "length", f"chat finish_reason {out.choices[0].finish_reason!r}")
            expect(out.usage.completion_tokens == 3, f"chat completion_tokens {out.usage.completion_tokens}")
            out, _ = complete(max_tokens=3)
            expect(out.choices[0].finish_reason == "length", f"completions finish_reason {out.choices[0].finish_reason!r}")
            expect(out.usage.completion_tokens == 3, f"completions completion_tokens {out.usage.completion_tokens}")
            _, finish, usage, _ = stream_completion(max_tokens=3)
            expect(finish == "length" and usage.completion_tokens == 3, f"streamed: {finish!r}, {usage}")
        runner.check("max_tokens=3: finish_reason length", length)

        # --- logprobs
        def completion_logprobs():
            out, body = complete(max_tokens=6, logprobs=2)
            validate(Completion, body, "the completion with logprobs")
            lp, text = out.choices[0].logprobs, out.choices[0].text
            expect(lp is not None, "no logprobs")
            k = out.usage.completion_tokens
            expect(len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == k,
                   f"lengths {len(lp.tokens)}, {len(lp.token_logprobs)}, {len(lp.top_logprobs)}, {len(lp.text_offset)} != {k} tokens")
            expect("".join(lp.tokens) == text, f"tokens {lp.tokens} do not join to {text!r}")
            offset = 0
            for i, (token, value, top, at) in enumerate(zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, lp.text_offset)):
                expect(isinstance(value, float) and value <= 0, f"token_logprobs[{i}] = {value!r}")
                expect(isinstance(top, dict) and len(top) == 2, f"top_logprobs[{i}] = {top!r}, not 2 entries")
                expect(abs(max(top.values()) - value) < 1e-6 and token in top,
                       f"greedy token {token!r} ({value}) is not the most likely of {top}")
                expect(at == offset, f"text_offset[{i}] = {at}, not {offset}")
                offset += len(token)
            return f"{lp.tokens[0]!r}: {lp.token_logprobs[0]:.4f}, top {lp.top_logprobs[0]}"
        runner.check("completions logprobs=2 (greedy token is the top one)", completion_logprobs)

        def prompt_logprobs():
            # Not validated against Completion: the package types token_logprobs as List[float], yet OpenAI
            # itself sends null for the echoed first token (as it sends finish_reason null in the chunks
            # of a completions stream, which are not validated either).
            out, _ = complete(max_tokens=0, echo=True, logprobs=2)
            choice = out.choices[0]
            lp = choice.logprobs
            expect(choice.text == RAW_PROMPT, f"echoed text {choice.text!r}")
            expect(lp is not None, "no logprobs")
            expect(len(lp.tokens) == out.usage.prompt_tokens, f"{len(lp.tokens)} tokens, prompt_tokens {out.usage.prompt_tokens}")
            expect(out.usage.completion_tokens == 0, f"completion_tokens {out.usage.completion_tokens}")
            expect("".join(lp.tokens) == RAW_PROMPT, f"tokens {lp.tokens} do not join to the prompt")
            expect(lp.token_logprobs[0] is None, f"first token_logprob {lp.token_logprobs[0]!r}, not None")
            expect(lp.top_logprobs[0] is None, f"first top_logprobs {lp.top_logprobs[0]!r}, not None")
            bad = [v for v in lp.token_logprobs[1:] if not isinstance(v, float) or v > 0]
            expect(not bad and len(lp.token_logprobs) > 1, f"token_logprobs {lp.token_logprobs}")
            expect(all(isinstance(t, dict) and len(t) == 2 for t in lp.top_logprobs[1:]), f"top_logprobs {lp.top_logprobs}")
            expect(choice.finish_reason == "length", f"finish_reason {choice.finish_reason!r}")
            return f"{lp.tokens}: {[None if v is None else round(v, 3) for v in lp.token_logprobs]}"
        runner.check("completions echo=True max_tokens=0: prompt logprobs", prompt_logprobs)

        def echo_stream():
            for extra in ({}, {"logprobs": 2}):
                out, _ = complete(max_tokens=4, echo=True, **extra)
                want = out.choices[0]
                text, finish, lp, stream = "", None, None, client.completions.create(
                    model=name, prompt=RAW_PROMPT, temperature=0, max_tokens=4, echo=True, stream=True, **extra)
                for chunk in stream:
                    for choice in chunk.choices:
                        text += choice.text
                        finish = choice.finish_reason or finish
                        if choice.logprobs is not None:
                            lp = lp or {"tokens": [], "token_logprobs": [], "text_offset": []}
                            for key in lp:
                                lp[key] += getattr(choice.logprobs, key) or []
                expect(text == want.text and text.startswith(RAW_PROMPT), f"{extra}: streamed {text!r} != {want.text!r}")
                expect(finish == want.finish_reason, f"{extra}: finish_reason {finish!r} != {want.finish_reason!r}")
                if extra:
                    whole = {key: getattr(want.logprobs, key) for key in lp}
                    expect(lp == whole, f"streamed logprobs {lp} != {whole}")
        runner.check("completions echo=True streaming = non-streaming (with and without logprobs)", echo_stream)

        def chat_logprobs():
            out, body = chat(max_tokens=6, logprobs=True, top_logprobs=2)
            validate(ChatCompletion, body, "the chat completion with logprobs")
            content = out.choices[0].logprobs.content
            expect(len(content) == out.usage.completion_tokens, f"{len(content)} entries, {out.usage.completion_tokens} tokens")
            joined = "".join(e.token for e in content)
            expect(joined.strip() == out.choices[0].message.content.strip(), f"tokens join to {joined!r}")
            for i, e in enumerate(content):
                expect(len(e.top_logprobs) == 2, f"content[{i}].top_logprobs has {len(e.top_logprobs)} entries")
                expect(abs(max(t.logprob for t in e.top_logprobs) - e.logprob) < 1e-6, f"content[{i}] is not the top token")
                expect(bytes(e.bytes).decode("utf-8", "replace") == e.token, f"content[{i}].bytes != token")
        runner.check("chat logprobs top_logprobs=2", chat_logprobs)

        # --- concurrency
        def concurrent():
            want = greedy_completion().choices[0].text
            results = [None] * 4

            def one(i):
                try:
                    results[i] = stream_completion(max_tokens=n)[0]
                except Exception as e:  # noqa: BLE001
                    results[i] = e
            threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for i, r in enumerate(results):
                expect(r == want, f"stream {i}: {r!r} != {want!r}")
        runner.check("4 concurrent streams = the sequential answer", concurrent)

        # --- structured output
        class City(pydantic.BaseModel):
            name: Annotated[str, pydantic.Field(max_length=16)]
            country: Literal["France", "Japan", "Peru"]
            rank: int

        def parse_pydantic():
            for seed in (1, 2, 3):
                out = client.chat.completions.parse(model=name, messages=[{"role": "user", "content": "Name a city."}],
                                                    response_format=City, temperature=1, seed=seed, max_tokens=60)
                city = out.choices[0].message.parsed
                expect(isinstance(city, City), f"seed {seed}: parsed {city!r} from {out.choices[0].message.content!r}")
            return repr(city)
        runner.check("chat.completions.parse(response_format=<pydantic model>) returns the model", parse_pydantic)

        def json_modes():
            out = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "Describe Lyon."}],
                                                 response_format={"type": "json_object"}, seed=4, max_tokens=40)
            expect(isinstance(json.loads(out.choices[0].message.content), dict), f"json_object: {out.choices[0].message.content!r}")
            schema = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}
            out = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "Some numbers."}],
                                                 extra_body={"json_schema": schema}, seed=5, max_tokens=40)
            numbers = json.loads(out.choices[0].message.content)
            expect(isinstance(numbers, list) and 2 <= len(numbers) <= 3 and all(isinstance(x, int) for x in numbers),
                   f"json_schema: {numbers!r}")
            out = client.completions.create(model=name, prompt="Is water wet? Answer:", seed=6, max_tokens=5,
                                            extra_body={"grammar": 'root ::= " yes" | " no"'})
            expect(out.choices[0].text in (" yes", " no"), f"grammar: {out.choices[0].text!r}")
        runner.check("response_format json_object; extra_body json_schema and grammar", json_modes)

        tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather now",
                                                   "parameters": {"type": "object", "required": ["city"],
                                                                  "properties": {"city": {"type": "string", "maxLength": 12}}}}},
                 {"type": "function", "function": {"name": "add", "parameters": {
                     "type": "object", "required": ["a", "b"],
                     "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}}]

        def tool_calls():
            asked = [{"role": "user", "content": "What is the weather in Paris?"}]
            for choice_field in ("required", {"type": "function", "function": {"name": "add"}}):
                out = client.chat.completions.create(model=name, messages=asked, tools=tools, tool_choice=choice_field,
                                                     seed=7, max_tokens=80)
                validate(ChatCompletion, out.to_dict(), "the tool-call completion")
                choice = out.choices[0]
                expect(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
                call = choice.message.tool_calls[0]
                expect(call.function.name in ("get_weather", "add"), f"name {call.function.name!r}")
                if isinstance(choice_field, dict):
                    expect(call.function.name == "add", f"named add, called {call.function.name!r}")
                arguments = json.loads(call.function.arguments)
                expect(set(arguments) == ({"a", "b"} if call.function.name == "add" else {"city"}), f"arguments {arguments!r}")
                # Streamed as OpenAI streams calls: id and name first, then argument fragments.
                stream = client.chat.completions.create(model=name, messages=asked, tools=tools, tool_choice=choice_field,
                                                        seed=7, max_tokens=80, stream=True)
                streamed_name, fragments, finish, ids = None, "", None, set()
                for chunk in stream:
                    validate(ChatCompletionChunk, chunk.to_dict(), "a tool-call chunk")
                    for c in chunk.choices:
                        finish = c.finish_reason or finish
                        for d in c.delta.tool_calls or []:
                            if d.id:
                                ids.add(d.id)
                            if d.function and d.function.name:
                                streamed_name = d.function.name
                            fragments += (d.function.arguments or "") if d.function else ""
                expect(streamed_name == call.function.name and fragments == call.function.arguments,
                       f"streamed {streamed_name}({fragments!r}) != {call.function.name}({call.function.arguments!r})")
                expect(finish == "tool_calls" and len(ids) == 1, f"streamed finish {finish!r}, ids {ids}")
            # The call's result goes back as a tool message; the answer is words.
            history = asked + [{"role": "assistant", "content": None, "tool_calls": [call.to_dict()]},
                               {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"}]
            out = client.chat.completions.create(model=name, messages=history, tools=tools, tool_choice="none",
                                                 temperature=0, max_tokens=10)
            expect(out.choices[0].message.content and not out.choices[0].message.tool_calls, f"after the result: {out}")
            return f"{call.function.name}({call.function.arguments})"
        runner.check("tools: tool_calls streamed and not (required, named), then a tool result", tool_calls)

        def unsupported_fields():
            for extra in ({"prediction": {"type": "content", "content": "x"}}, {"functions": [{"name": "f"}]},
                          {"audio": {"voice": "x"}}):
                try:
                    client.chat.completions.create(model=name, messages=messages, max_tokens=2, extra_body=extra)
                except openai.BadRequestError as e:
                    expect(e.param == next(iter(extra)), f"{extra}: param {e.param!r}")
                else:
                    raise CheckFailed(f"{extra} was accepted")
        runner.check("unsupported fields (prediction, functions, audio) raise BadRequestError naming them", unsupported_fields)

        # --- errors
        def bad_request():
            for what, call in (("chat", lambda: chat(max_tokens=4, temperature=-1)),
                               ("completions", lambda: complete(max_tokens=4, temperature=-1))):
                try:
                    call()
                except openai.BadRequestError as e:
                    expect(e.status_code == 400, f"{what}: status {e.status_code}")
                    expect(isinstance(e.body, dict) and e.body.get("message"), f"{what}: error body {e.body!r}")
                    expect(e.param == "temperature" and e.type == "invalid_request_error",
                           f"{what}: param {e.param!r}, type {e.type!r}")
                    message = e.body["message"]
                else:
                    raise CheckFailed(f"{what}: temperature=-1 was accepted")
            return message
        runner.check("temperature=-1 raises openai.BadRequestError", bad_request)

        # --- against dolly run (the same greedy decoding outside the server)
        def run_chat():
            want = dolly_run(dolly, model_path, INSTRUCTION, n)
            got = greedy_chat().choices[0].message.content
            expect(got == want, f"server {got!r} != dolly run {want!r}")
        runner.check(f"greedy chat = dolly run --greedy --max-tokens {n}", run_chat)

        def run_raw():
            want = dolly_run(dolly, model_path, RAW_PROMPT, n, raw=True)
            got = greedy_completion().choices[0].text
            expect(got == want, f"server {got!r} != dolly run --raw {want!r}")
        runner.check(f"greedy completion = dolly run --raw --greedy --max-tokens {n}", run_raw)

        # --- API key
        if not args.skip_auth:
            def api_key():
                server = Server(dolly, model_path, ["--api-key", "k"])
                servers.append(server)
                url = server.url + "/v1"
                wrong = openai.OpenAI(base_url=url, api_key="wrong", max_retries=0, timeout=60)
                try:
                    wrong.models.list()
                except openai.AuthenticationError as e:
                    expect(e.status_code == 401, f"status {e.status_code}")
                    expect(e.code == "invalid_api_key", f"code {e.code!r}")
                else:
                    raise CheckFailed("a wrong key listed the models")
                try:
                    wrong.completions.create(model=name, prompt=RAW_PROMPT, max_tokens=2)
                except openai.AuthenticationError:
                    pass
                else:
                    raise CheckFailed("a wrong key got a completion")
                right = openai.OpenAI(base_url=url, api_key="k", max_retries=0, timeout=60)
                out = right.completions.create(model=name, prompt=RAW_PROMPT, max_tokens=2, temperature=0)
                expect(out.usage.completion_tokens == 2, f"right key: {out}")
                with urllib.request.urlopen(server.url + "/health", timeout=10) as r:
                    expect(r.status == 200, f"/health without a key: {r.status}")
            runner.check("--api-key k: wrong key raises openai.AuthenticationError, right key works", api_key)
    except Exception as e:  # noqa: BLE001  (a server that does not start)
        runner.count += 1
        runner.failed += 1
        print(f"FAIL setup: {type(e).__name__}: {e}", flush=True)
    finally:
        for server in servers:
            runner.stopped(server)

    print(f"{runner.count - runner.failed}/{runner.count} passed", flush=True)
    sys.exit(1 if runner.failed else 0)


if __name__ == "__main__":
    main()
