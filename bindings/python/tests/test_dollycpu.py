"""dollycpu against the demo model and the CLI (run from the repository: bindings/python/run_tests.sh).

DOLLY_MODEL: the model (default: the repository's models/dolly-demo); DOLLY_CLI: the `dolly`
binary whose `run --greedy` output the binding must reproduce (default: .build/debug/dolly).
"""
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

import dollycpu
from dollycpu import ContextError, DollyError, InvalidArgumentError, Model, ModelFormatError, ModelNotFoundError

ROOT = Path(__file__).resolve().parents[3]
MODEL = os.environ.get("DOLLY_MODEL", str(ROOT / "models" / "dolly-demo"))
CLI = os.environ.get("DOLLY_CLI", str(ROOT / ".build" / "debug" / "dolly"))
QUOTE = "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope"
QUESTION = "Who is quoted in this text?"
COUNTING = "1, 2, 3, 4,"  # a raw prompt the demo model continues until max_tokens


@pytest.fixture(scope="module")
def model():
    with Model(MODEL, threads=2) as m:
        yield m


def cli(*args):
    return subprocess.run([CLI, "run", "--model", MODEL, *args], check=True, capture_output=True).stdout.decode()


def test_greedy_equals_the_cli(model):
    expected = cli("--greedy", "--input", QUOTE, QUESTION)
    assert model.generate(QUESTION, context=QUOTE, greedy=True) + "\n" == expected
    raw = cli("--greedy", "--raw", "--max-tokens", "40", "Once upon a time")
    assert model.generate("Once upon a time", raw=True, greedy=True, max_tokens=40) + "\n" == raw


def test_streaming_equals_whole(model):
    for options in ({"greedy": True}, {"seed": 7, "temperature": 0.8, "top_k": 40}):
        whole = model.generate(QUESTION, context=QUOTE, **options)
        pieces = list(model.generate(QUESTION, context=QUOTE, stream=True, **options))
        assert len(pieces) >= 1 and all(isinstance(p, str) and p for p in pieces)
        assert "".join(pieces) == whole


def test_tokenizer(model):
    assert model.tokenize("Hello world") == [12092, 1533]
    ids = model.tokenize(QUOTE)
    assert model.detokenize(ids) == QUOTE
    assert model.tokenize("") == [] and model.detokenize([]) == ""
    assert model.detokenize(model.tokenize("naïve café ☕")) == "naïve café ☕"


def test_stop_texts_and_results(model):
    text = model.generate("Once upon a time", raw=True, greedy=True, max_tokens=30, stop=["."])
    assert "." not in text
    assert model.last_result.stop_reason in ("stop_text", "max_tokens", "stop_token")
    model.generate(COUNTING, raw=True, greedy=True, max_tokens=5)
    assert model.last_result.stop_reason == "max_tokens" and model.last_result.generated_tokens == 5


def test_json_schema(model):
    schema = {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}
    text = model.generate(QUESTION, context=QUOTE, greedy=True, max_tokens=64, json_schema=schema)
    assert text.startswith("{") and '"who"' in text


def test_logits(model):
    session = model.session(threads=1, context=64)
    session.eval(model.tokenize("Hello world"))
    logits = session.logits()
    assert len(logits) == model.info["n_vocab"] and session.position == 2
    best = max(range(len(logits)), key=logits.__getitem__)
    continuation = model.generate("Hello world", raw=True, greedy=True, max_tokens=3)
    assert continuation.startswith(model.detokenize([best]))


def test_errors_raise_with_the_library_message(model, tmp_path):
    with pytest.raises(ModelNotFoundError) as missing:
        Model(str(tmp_path / "nothing.dolly"))
    assert missing.value.status_name == "DOLLY_ERR_NOT_FOUND" and "nothing.dolly" in str(missing.value)
    damaged = tmp_path / "damaged.dolly"
    damaged.write_bytes(b"DOLLY\0\0\0" + b"garbage" * 10)
    with pytest.raises(ModelFormatError):
        Model(str(damaged))
    with pytest.raises(InvalidArgumentError, match="top_p"):
        model.generate(QUESTION, top_p=0)
    with pytest.raises(InvalidArgumentError, match="outside the vocabulary"):
        model.detokenize([1, model.info["n_vocab"]])
    with pytest.raises(InvalidArgumentError, match="raw prompt"):
        model.generate("x", context="y", raw=True)
    with pytest.raises(ContextError):
        model.generate("many words " * 300)
    with pytest.raises(InvalidArgumentError):
        model.generate(QUESTION, grammar="root ::= missing")
    with pytest.raises(DollyError):
        list(model.generate(QUESTION, stream=True, temperature=-1))
    # the model still answers after all that
    assert model.generate(QUESTION, context=QUOTE, greedy=True) + "\n" == cli("--greedy", "--input", QUOTE, QUESTION)


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler, whatever this process inherited: a shell that starts a job in
    the background (`.ci/run &`, nohup) hands it SIGINT ignored, and Python then never installs the
    handler that raises KeyboardInterrupt."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_stops_a_stream_cleanly(model, ctrl_c):
    session = model.session(threads=1)
    pieces = []
    with pytest.raises(KeyboardInterrupt):
        for piece in session.generate(COUNTING, raw=True, greedy=True, max_tokens=200, stream=True):
            pieces.append(piece)
            if len(pieces) == 1:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C, delivered to this (the main) thread
    assert session.last_result is None or session.last_result.stop_reason == "cancelled"
    # the session is free again and gives the same answer as a fresh one
    assert session.generate(QUESTION, context=QUOTE, greedy=True) == model.generate(QUESTION, context=QUOTE,
                                                                                    greedy=True)


def test_keyboard_interrupt_stops_a_whole_generation_cleanly(model, ctrl_c):
    session = model.session(threads=1)
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            session.generate(COUNTING, raw=True, greedy=True, max_tokens=240)
            session.generate(COUNTING, raw=True, greedy=True, max_tokens=240)  # should one end first
            timer.join()
            session.generate(COUNTING, raw=True, greedy=True, max_tokens=240)
    finally:
        timer.cancel()
    assert session.generate(COUNTING, raw=True, greedy=True, max_tokens=5)
    assert session.last_result.stop_reason == "max_tokens"


def test_busy_session_and_cancel(model):
    session = model.session(threads=1)
    stream = session.generate(COUNTING, raw=True, greedy=True, max_tokens=200, stream=True)
    next(stream)
    with pytest.raises(dollycpu.BusyError):
        session.generate(QUESTION)
    session.cancel()
    rest = list(stream)
    assert session.last_result.stop_reason == "cancelled" and len(rest) < 199
