#!/usr/bin/env python3
"""`dolly serve` through the official `ollama` Python package: does a real Ollama client work?

Starts `dolly serve` on a free port, then with `ollama.Client(host=...)` and greedy decoding
(temperature 0) checks:

  - list(), show(), ps() and the version endpoint parse as the package's types, with the model's
    facts (family gptneox, its layer count, its context);
  - generate and chat, non-streaming and streaming: the streamed text joined equals the whole answer,
    every part but the last has done=False, the last has done=True, done_reason, and the timing
    fields as Ollama writes them (total_duration, prompt_eval_duration, eval_duration in nanoseconds,
    total >= prompt + eval, eval_count = the tokens generated);
  - the greedy generate answer equals `dolly run --greedy` and the chat answer equals OpenAI's
    endpoint's (same engine);
  - `context` continues a conversation: only the new turn is evaluated (prompt_eval_count);
  - a chat history of 3 turns: each turn's prompt_eval_count is far below its whole prompt (the
    slot's cache of the earlier turns is reused);
  - format="json" and a JSON Schema (a Pydantic model's) give parseable, valid answers;
  - options it honours change the answer (num_predict, stop, seed) and ones it cannot are refused:
    ollama.ResponseError with status 400 naming the option; an unknown model is a 404;
  - the server exits 0 on SIGINT.

One line per check (PASS/FAIL); exit status 1 when any failed. Needs `pip install ollama`:

    tools/.venv/bin/python tools/ci/ollama_client.py --dolly .build/debug/dolly
"""
import argparse
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # tools/
from toolpaths import ROOT  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))  # tools/ci
from serve_process import Runner, Server, dolly_run, expect  # noqa: E402

try:
    import ollama  # noqa: E402
    import pydantic  # noqa: E402  (the ollama package depends on it)
except ImportError:
    sys.exit("ollama_client.py: needs the ollama package: tools/.venv/bin/pip install ollama")

GREEDY = {"temperature": 0, "num_predict": 32}
QUESTION = "Why is the sky blue?"


def check_timings(r, what):
    for field in ("total_duration", "prompt_eval_duration", "eval_duration"):
        value = getattr(r, field)
        expect(isinstance(value, int) and 10_000 < value < 600_000_000_000, f"{what}: {field}={value!r} is not nanoseconds")
    expect(r.total_duration >= r.prompt_eval_duration + r.eval_duration,
           f"{what}: total_duration {r.total_duration} < prompt {r.prompt_eval_duration} + eval {r.eval_duration}")
    expect(r.load_duration == 0, f"{what}: load_duration {r.load_duration}: the model is loaded before serving")
    expect(r.eval_count and r.eval_count > 0 and r.prompt_eval_count and r.prompt_eval_count > 0,
           f"{what}: counts {r.prompt_eval_count}, {r.eval_count}")
    expect(r.done is True and r.done_reason in ("stop", "length"), f"{what}: done={r.done} done_reason={r.done_reason}")


def streamed(parts, what, text_of):
    parts = list(parts)
    expect(len(parts) >= 2, f"{what}: {len(parts)} parts")
    expect(all(p.done is False for p in parts[:-1]) and parts[-1].done is True, f"{what}: done flags {[p.done for p in parts]}")
    return "".join(text_of(p) or "" for p in parts), parts[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dolly", default=os.path.join(ROOT, ".build", "debug", "dolly"))
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "dolly-demo"))
    args = parser.parse_args()
    name = os.path.basename(args.model.rstrip("/")).removesuffix(".dolly")
    runner = Runner()
    server = Server(args.dolly, args.model)
    client = ollama.Client(host=server.url)
    try:
        def listings():
            models = client.list().models
            expect([m.model for m in models] == [f"{name}:latest"], f"list: {[m.model for m in models]}")
            expect(models[0].details.family == "gptneox" and models[0].size > 0, f"list details: {models[0]}")
            show = client.show(name)
            expect(show.modelinfo["general.architecture"] == "gptneox", f"show: {show.modelinfo}")
            expect("### Instruction:" in show.template, "show: template")
            ps = client.ps().models
            expect(ps and ps[0].context_length and ps[0].size_vram == 0, f"ps: {ps}")
            version = json.load(urllib.request.urlopen(server.url + "/api/version"))
            expect(isinstance(version.get("version"), str), f"version: {version}")
            return f"{name}:latest, {show.details.parameter_size}, {show.details.quantization_level}, context {ps[0].context_length}"

        def generate():
            r = client.generate(model=name, prompt=QUESTION, options=GREEDY)
            check_timings(r, "generate")
            reference = dolly_run(args.dolly, args.model, QUESTION, 32)
            expect(r.response == reference, f"generate {r.response!r} != dolly run --greedy {reference!r}")
            text, last = streamed(client.generate(model=name, prompt=QUESTION, options=GREEDY, stream=True),
                                  "generate stream", lambda p: p.response)
            expect(text == r.response, f"streamed {text!r} != {r.response!r}")
            check_timings(last, "generate stream")
            expect(last.eval_count == r.eval_count, f"eval_count {last.eval_count} != {r.eval_count}")
            return f"{r.eval_count} tokens, {r.eval_count / (r.eval_duration / 1e9):.0f} tok/s"

        def chat():
            messages = [{"role": "user", "content": QUESTION}]
            r = client.chat(model=name, messages=messages, options=GREEDY)
            check_timings(r, "chat")
            expect(r.message.role == "assistant", f"role {r.message.role}")
            openai_body = json.dumps({"messages": messages, "temperature": 0, "max_tokens": 32}).encode()
            req = urllib.request.Request(server.url + "/v1/chat/completions", openai_body, {"Content-Type": "application/json"})
            openai_answer = json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"]
            expect(r.message.content == openai_answer, f"chat {r.message.content!r} != OpenAI endpoint {openai_answer!r}")
            text, last = streamed(client.chat(model=name, messages=messages, options=GREEDY, stream=True),
                                  "chat stream", lambda p: p.message.content)
            expect(text == r.message.content, f"streamed {text!r} != {r.message.content!r}")
            check_timings(last, "chat stream")
            return f"{r.eval_count} tokens"

        def context():
            first = client.generate(model=name, prompt="Name a color.", options={"temperature": 0, "num_predict": 8})
            second = client.generate(model=name, prompt="Name another.", context=first.context,
                                     options={"temperature": 0, "num_predict": 8})
            expect(list(second.context[:len(first.context)]) == list(first.context), "context does not continue")
            new = len(second.context) - len(first.context) - second.eval_count
            expect(second.prompt_eval_count <= new + 1, f"evaluated {second.prompt_eval_count} of {new} new prompt tokens")
            return f"turn 2 evaluated {second.prompt_eval_count} prompt tokens, {len(first.context)} were cached"

        def history():
            def converse(c):
                messages = [{"role": "system", "content": "Dolly was a sheep cloned in 1996 at the Roslin Institute."}]
                evaluated, answers = [], []
                for q in ("Who was Dolly?", "Where was she cloned?", "When was she cloned?"):
                    messages.append({"role": "user", "content": q})
                    r = c.chat(model=name, messages=messages, options={"temperature": 0, "num_predict": 16})
                    evaluated.append(r.prompt_eval_count)
                    answers.append(r.message.content)
                    messages.append({"role": "assistant", "content": r.message.content})
                return evaluated, answers
            cached, answers = converse(client)
            plain = Server(args.dolly, args.model, extra=["--no-prefix-cache"])
            try:
                whole, plain_answers = converse(ollama.Client(host=plain.url))
            finally:
                plain.stop()
            expect(answers == plain_answers, f"answers with the cache {answers} != without {plain_answers}")
            expect(cached[2] * 2 < whole[2], f"turn 3 evaluated {cached[2]} of {whole[2]} prompt tokens")
            return f"prompt tokens evaluated per turn: {cached}, without the prefix cache {whole}"

        def formats():
            r = client.generate(model=name, prompt="A JSON object describing a cat.", format="json",
                                options={"num_predict": 48, "seed": 1})
            expect(isinstance(json.loads(r.response), dict), f"format json: {r.response!r}")

            class Pet(pydantic.BaseModel):
                name: str
                legs: int

            c = client.chat(model=name, messages=[{"role": "user", "content": "Describe a pet."}],
                            format=Pet.model_json_schema(), options={"num_predict": 48, "seed": 2})
            Pet.model_validate_json(c.message.content)
            return c.message.content

        def options():
            short = client.generate(model=name, prompt=QUESTION, options={"temperature": 0, "num_predict": 3})
            expect(short.eval_count == 3 and short.done_reason == "length", f"num_predict 3: {short.eval_count} {short.done_reason}")
            a = client.generate(model=name, prompt=QUESTION, options={"seed": 7, "num_predict": 16}).response
            b = client.generate(model=name, prompt=QUESTION, options={"seed": 7, "num_predict": 16}).response
            expect(a == b, f"seed 7 twice: {a!r} != {b!r}")
            whole = client.generate(model=name, prompt=QUESTION, options=GREEDY).response
            words = whole.split()
            if len(words) > 2:
                stop = " " + words[len(words) // 2]
                cut = client.generate(model=name, prompt=QUESTION, options={**GREEDY, "stop": [stop]}).response
                expect(cut == whole[:whole.find(stop)], f"stop {stop!r}: {cut!r}")
            for bad, word in (({"mirostat": 2}, "mirostat"), ({"typical_p": 0.5}, "typical_p"), ({"frobnicate": 1}, "frobnicate")):
                try:
                    client.generate(model=name, prompt="x", options=bad)
                except ollama.ResponseError as e:
                    expect(e.status_code == 400 and word in e.error, f"{bad}: {e.status_code} {e.error}")
                else:
                    raise AssertionError(f"{bad} was accepted")
            try:
                client.generate(model="llama3", prompt="x")
            except ollama.ResponseError as e:
                expect(e.status_code == 404 and "not found" in e.error, f"unknown model: {e.status_code} {e.error}")
            else:
                raise AssertionError("an unknown model was accepted")

        runner.check("listings: list, show, ps, version", listings)
        runner.check("generate, whole and streamed", generate)
        runner.check("chat, whole and streamed", chat)
        runner.check("generate's context continues from the cache", context)
        runner.check("a chat history reuses the cache", history)
        runner.check("format json and a JSON Schema", formats)
        runner.check("options honoured or refused", options)
    finally:
        status = server.stop()
        runner.check("server exits 0 on SIGINT", lambda: expect(status == 0, f"exit status {status}"))
    print(f"{runner.count - runner.failed}/{runner.count} checks passed", flush=True)
    sys.exit(1 if runner.failed else 0)


if __name__ == "__main__":
    main()
