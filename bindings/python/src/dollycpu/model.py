"""Model, Session and Grammar: a Pythonic face on libdolly's handles."""
import ctypes
import json
import os
import queue
import threading
from ctypes import byref, c_char_p, c_float, c_int32, c_size_t, c_void_p
from dataclasses import dataclass

from . import _lib
from .errors import CLASSES, BusyError, DollyError

_library = None
_library_lock = threading.Lock()


def lib():
    """libdolly, loaded at first use (so `import dollycpu` works before the library is found)."""
    global _library
    with _library_lock:
        if _library is None:
            _library = _lib.load()
        return _library


def library_version():
    return lib().dolly_version().decode()


def _call(function, *args):
    """Calls a libdolly function whose last argument is `dolly_error **`, raising its error."""
    error = c_void_p()
    status = function(*args, byref(error))
    _raise_for(status, error)


def _raise_for(status, error):
    if status == _lib.OK:
        return
    library = lib()
    message = library.dolly_error_message(error).decode("utf-8", "replace")
    library.dolly_error_free(error)
    raise CLASSES.get(status, DollyError)(status, _lib.STATUS_NAMES.get(status, str(status)), message)


def _text(value, name):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name} contains a NUL character")
    return value.encode("utf-8")


@dataclass
class GenerationResult:
    """How the last generation ended: stop_reason is one of "stop_token", "stop_text", "max_tokens",
    "context_full", "cancelled", "no_allowed_token"."""
    stop_reason: str
    prompt_tokens: int
    generated_tokens: int
    prompt_seconds: float
    generation_seconds: float


class Grammar:
    """A compiled constraint (GBNF or JSON Schema) bound to one model; reusable and thread-safe."""

    def __init__(self, model, gbnf=None, json_schema=None):
        handle = c_void_p()
        if gbnf is not None:
            _call(lib().dolly_grammar_from_gbnf, model._handle, _text(gbnf, "gbnf"), byref(handle))
        else:
            schema = json.dumps(json_schema) if isinstance(json_schema, dict) else json_schema
            encoded = None if schema is None else _text(schema, "json_schema")
            _call(lib().dolly_grammar_from_json_schema, model._handle, encoded, byref(handle))
        self._handle = handle

    def __del__(self):
        if getattr(self, "_handle", None) and _library is not None:
            _library.dolly_grammar_free(self._handle)
            self._handle = None


class Session:
    """One sequence with its own KV cache and thread count. One generation at a time (a second one,
    from another thread or an unfinished stream, raises BusyError)."""

    def __init__(self, model, threads=0, context=0, kv_type="f16"):
        self._handle = None
        if kv_type not in _lib.KV_TYPES:
            raise ValueError(f"kv_type must be one of {sorted(_lib.KV_TYPES)}")
        params = _lib.ModelParams(n_threads=threads, n_context=context, kv_type=_lib.KV_TYPES[kv_type])
        handle = c_void_p()
        _call(lib().dolly_session_create, model._handle, byref(params), byref(handle))
        self.model = model
        self._handle = handle
        self._busy = threading.Lock()
        self.last_result = None

    def close(self):
        if getattr(self, "_handle", None) and _library is not None:
            _library.dolly_session_free(self._handle)
        self._handle = None

    __del__ = close

    def cancel(self):
        """Stops the running generation after its current token (any thread)."""
        if self._handle:
            lib().dolly_session_cancel(self._handle)

    def generate(self, instruction, context=None, *, raw=False, stream=False, max_tokens=256, greedy=False,
                 temperature=1.0, top_p=0.92, top_k=0, min_p=0.0, repetition_penalty=1.0, no_repeat_ngram_size=0,
                 frequency_penalty=0.0, presence_penalty=0.0, seed=None, stop=(), grammar=None, json_schema=None):
        """The answer to an instruction (Dolly's template, with `context` as its Input:), or with
        raw=True the continuation of a plain prompt. stream=True returns an iterator of text pieces
        (errors then surface at the first iteration); otherwise the whole text. Sampling controls
        follow transformers' GenerationConfig; `stop` is a list of texts that end the answer;
        `grammar` (GBNF text or a Grammar) or `json_schema` (a dict, a JSON text, or True for any
        object) constrains it. Ctrl-C (KeyboardInterrupt) cancels the generation cleanly."""
        if isinstance(stop, str):
            stop = [stop]
        if json_schema is not None and grammar is not None:
            raise ValueError("give grammar or json_schema, not both")
        if isinstance(grammar, str):
            grammar = Grammar(self.model, gbnf=grammar)
        elif json_schema is not None:
            grammar = Grammar(self.model, json_schema=None if json_schema is True else json_schema)
        stops = [_text(s, "stop") for s in stop]
        stop_array = (c_char_p * len(stops))(*stops) if stops else None
        params = lib().dolly_sampling_default_params()
        params.max_tokens, params.greedy, params.temperature, params.top_p = max_tokens, greedy, temperature, top_p
        params.top_k, params.min_p, params.repetition_penalty = top_k, min_p, repetition_penalty
        params.no_repeat_ngram_size = no_repeat_ngram_size
        params.frequency_penalty, params.presence_penalty = frequency_penalty, presence_penalty
        params.has_seed, params.seed = seed is not None, seed or 0
        params.stop_texts = stop_array
        params.n_stop_texts = len(stops)
        params.grammar = grammar._handle if grammar is not None else None
        prompt = (_text(instruction, "instruction"), None if context is None else _text(context, "context"),
                  _lib.PROMPT_RAW if raw else 0)
        keep = (stop_array, stops, grammar)  # alive until the generation ends
        if stream:
            return self._stream(prompt, params, keep)
        pieces = []
        run = self._generation(prompt, params, keep, pieces.append)
        try:
            for _ in run:
                pass
        finally:
            run.close()  # Ctrl-C here, between the generator's steps, must cancel too (not wait for the GC)
        return "".join(pieces)

    def _stream(self, prompt, params, keep):
        pieces = queue.SimpleQueue()
        done = object()
        run = self._generation(prompt, params, keep, pieces.put, on_end=lambda: pieces.put(done))
        try:
            next(run)  # the prompt is set and the worker started (or an error raised)
            while (piece := pieces.get()) is not done:
                yield piece
            next(run, None)  # the generation's error, if any, and its result
        finally:
            run.close()  # a stream left early (or Ctrl-C) cancels the generation

    def _generation(self, prompt, params, keep, on_piece, on_end=None):
        """Sets the prompt, runs dolly_generate on a worker thread, yields once while it runs, then
        waits for it. The worker is what lets Ctrl-C work: Python delivers KeyboardInterrupt to the
        main thread only between bytecodes, so a main thread blocked in C would hold it until the
        end; blocked in a wait here it gets it at once, and the `finally` cancels the generation."""
        if not self._busy.acquire(blocking=False):
            raise BusyError(9, "DOLLY_ERR_BUSY", "the session is busy with another generation")
        outcome = {}
        result = _lib.GenerateResult()
        # Waited for with an Event, not Thread.join: Python 3.11's join, interrupted by Ctrl-C, can
        # mark a running thread as stopped (its is_alive() turns False), and the cancel would be skipped.
        done = threading.Event()

        def on_text(pointer, length, _user_data):
            on_piece(ctypes.string_at(pointer, length).decode("utf-8"))
            return True

        callback = _lib.TEXT_CALLBACK(on_text)

        def work():
            error = c_void_p()
            try:
                outcome["status"] = lib().dolly_generate(self._handle, byref(params), callback, None, byref(result),
                                                         byref(error))
                outcome["error"] = error
                outcome["keep"] = keep  # (the stop texts and grammar stay alive until here)
            finally:
                done.set()
                if on_end:
                    on_end()

        worker = None
        try:
            instruction, context, flags = prompt
            _call(lib().dolly_prompt, self._handle, instruction, context, flags, None)
            worker = threading.Thread(target=work, name="dolly-generate", daemon=True)
            worker.start()
            yield
            done.wait()
        finally:
            if worker is not None and not done.is_set():
                lib().dolly_session_cancel(self._handle)
                done.wait()
            self._busy.release()
        _raise_for(outcome["status"], outcome["error"])
        self.last_result = GenerationResult(_lib.STOP_REASONS.get(result.stop_reason, str(result.stop_reason)),
                                            result.n_prompt_tokens, result.n_generated_tokens,
                                            result.prompt_seconds, result.generation_seconds)

    def reset(self):
        _call(lib().dolly_session_reset, self._handle)

    def eval(self, tokens):
        """Runs token ids through the model after those the session holds (for evaluators)."""
        array = (c_int32 * len(tokens))(*tokens)
        _call(lib().dolly_eval, self._handle, array, len(tokens))

    def logits(self):
        """The next-token scores after the last eval, one float per vocabulary entry."""
        n = self.model.info["n_vocab"]
        buffer = (c_float * n)()
        _call(lib().dolly_get_logits, self._handle, buffer, n, byref(c_size_t()))
        return list(buffer)

    @property
    def position(self):
        value = c_int32()
        _call(lib().dolly_session_get_position, self._handle, byref(value))
        return value.value


class Model:
    """A loaded Dolly model (a .dolly file or a Hugging Face folder). Thread-safe; its generate()
    uses one session of its own (one generation at a time: make a Session per thread for more)."""

    def __init__(self, path, *, threads=0, context=0, kv_type="f16", read_into_memory=False):
        self._handle = self._session = None
        if kv_type not in _lib.KV_TYPES:
            raise ValueError(f"kv_type must be one of {sorted(_lib.KV_TYPES)}")
        params = lib().dolly_model_default_params()
        params.n_threads, params.n_context, params.kv_type = threads, context, _lib.KV_TYPES[kv_type]
        params.read_into_memory = read_into_memory
        handle = c_void_p()
        _call(lib().dolly_model_load, os.fsencode(path), byref(params), byref(handle))
        self._handle = handle
        self._kv_type = kv_type
        info = _lib.ModelInfo()
        _call(lib().dolly_model_get_info, handle, byref(info))
        self.info = {name: getattr(info, name) for name, _ in _lib.ModelInfo._fields_}
        self._session = None

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None
        if getattr(self, "_handle", None) and _library is not None:
            _library.dolly_model_free(self._handle)
        self._handle = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def tokenize(self, text):
        data = _text(text, "text")
        capacity = len(data) + 1  # every token covers at least one byte
        while True:
            tokens, count = (c_int32 * capacity)(), c_size_t()
            error = c_void_p()
            status = lib().dolly_tokenize(self._handle, data, len(data), tokens, capacity, byref(count), byref(error))
            if status == _lib.BUFFER_TOO_SMALL:  # the needed length is in count: try again with it
                lib().dolly_error_free(error)
                capacity = count.value
                continue
            _raise_for(status, error)
            return list(tokens[:count.value])

    def detokenize(self, tokens):
        ids = (c_int32 * len(tokens))(*tokens)
        capacity = 8 * len(tokens) + 1
        while True:
            buffer, length = ctypes.create_string_buffer(capacity), c_size_t()
            error = c_void_p()
            status = lib().dolly_detokenize(self._handle, ids, len(tokens), buffer, capacity, byref(length),
                                            byref(error))
            if status == _lib.BUFFER_TOO_SMALL:
                lib().dolly_error_free(error)
                capacity = length.value + 1
                continue
            _raise_for(status, error)
            return buffer.raw[:length.value].decode("utf-8")

    def grammar(self, gbnf):
        return Grammar(self, gbnf=gbnf)

    def json_schema(self, schema=None):
        """A constraint to JSON matching `schema` (a dict or JSON text); None: any JSON object."""
        return Grammar(self, json_schema=schema)

    def session(self, threads=0, context=0, kv_type=None):
        return Session(self, threads, context, kv_type or self._kv_type)

    def generate(self, instruction, context=None, **options):
        """Session.generate on the model's own session (see there for the options)."""
        if self._session is None:
            self._session = Session(self, kv_type=self._kv_type)
        return self._session.generate(instruction, context, **options)

    @property
    def last_result(self):
        return self._session.last_result if self._session else None
