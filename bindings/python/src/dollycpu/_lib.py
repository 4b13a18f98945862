"""ctypes mirror of dolly.h (Sources/CDolly/include/dolly.h), and where libdolly is found."""
import ctypes
import ctypes.util
import os
from ctypes import POINTER, c_bool, c_char_p, c_double, c_float, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path

ABI_VERSION = 1  # DOLLY_ABI_VERSION of the header this file mirrors
LIBRARY_NAME = "libDollyC.so"

STATUS_NAMES = {
    0: "DOLLY_OK", 1: "DOLLY_ERR_INVALID_ARGUMENT", 2: "DOLLY_ERR_BUFFER_TOO_SMALL",
    3: "DOLLY_ERR_TOKEN_OUT_OF_RANGE", 4: "DOLLY_ERR_NOT_FOUND", 5: "DOLLY_ERR_BAD_MODEL", 6: "DOLLY_ERR_CONTEXT",
    7: "DOLLY_ERR_GRAMMAR", 8: "DOLLY_ERR_OUT_OF_MEMORY", 9: "DOLLY_ERR_BUSY", 10: "DOLLY_ERR_INVALID_STATE",
    99: "DOLLY_ERR_INTERNAL",
}
OK, BUFFER_TOO_SMALL = 0, 2
KV_TYPES = {"f16": 0, "f32": 1, "q8": 2}
PROMPT_RAW = 1
STOP_REASONS = {0: "stop_token", 1: "stop_text", 2: "max_tokens", 3: "context_full", 4: "cancelled",
                5: "no_allowed_token"}


class ModelParams(ctypes.Structure):
    _fields_ = [("n_threads", c_int32), ("n_context", c_int32), ("kv_type", c_int32), ("read_into_memory", c_bool)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("n_vocab", c_int32), ("n_context_max", c_int32), ("n_context", c_int32), ("n_threads", c_int32),
                ("n_embd", c_int32), ("n_layer", c_int32), ("n_head", c_int32), ("n_params", ctypes.c_int64),
                ("weight_bytes", ctypes.c_int64), ("eos_token", c_int32), ("end_token", c_int32)]


class SamplingParams(ctypes.Structure):
    _fields_ = [("max_tokens", c_int32), ("greedy", c_bool), ("temperature", c_float), ("top_p", c_float),
                ("top_k", c_int32), ("min_p", c_float), ("repetition_penalty", c_float),
                ("no_repeat_ngram_size", c_int32), ("frequency_penalty", c_float), ("presence_penalty", c_float),
                ("has_seed", c_bool), ("seed", c_uint64), ("stop_texts", POINTER(c_char_p)),
                ("n_stop_texts", c_size_t), ("grammar", c_void_p)]


class GenerateResult(ctypes.Structure):
    _fields_ = [("stop_reason", c_int32), ("n_prompt_tokens", c_int32), ("n_generated_tokens", c_int32),
                ("prompt_seconds", c_double), ("generation_seconds", c_double)]


TEXT_CALLBACK = ctypes.CFUNCTYPE(c_bool, c_void_p, c_size_t, c_void_p)
ERROR = POINTER(c_void_p)  # dolly_error **

# name: (return type, argument types)
SIGNATURES = {
    "dolly_error_code": (c_int32, [c_void_p]),
    "dolly_error_message": (c_char_p, [c_void_p]),
    "dolly_error_free": (None, [c_void_p]),
    "dolly_version": (c_char_p, []),
    "dolly_abi_version": (c_int32, []),
    "dolly_model_default_params": (ModelParams, []),
    "dolly_model_load": (c_int32, [c_char_p, POINTER(ModelParams), POINTER(c_void_p), ERROR]),
    "dolly_model_free": (None, [c_void_p]),
    "dolly_model_get_info": (c_int32, [c_void_p, POINTER(ModelInfo), ERROR]),
    "dolly_tokenize": (c_int32, [c_void_p, c_char_p, c_size_t, POINTER(c_int32), c_size_t, POINTER(c_size_t), ERROR]),
    "dolly_detokenize": (c_int32, [c_void_p, POINTER(c_int32), c_size_t, c_char_p, c_size_t, POINTER(c_size_t),
                                   ERROR]),
    "dolly_grammar_from_gbnf": (c_int32, [c_void_p, c_char_p, POINTER(c_void_p), ERROR]),
    "dolly_grammar_from_json_schema": (c_int32, [c_void_p, c_char_p, POINTER(c_void_p), ERROR]),
    "dolly_grammar_free": (None, [c_void_p]),
    "dolly_session_create": (c_int32, [c_void_p, POINTER(ModelParams), POINTER(c_void_p), ERROR]),
    "dolly_session_free": (None, [c_void_p]),
    "dolly_session_reset": (c_int32, [c_void_p, ERROR]),
    "dolly_session_get_position": (c_int32, [c_void_p, POINTER(c_int32), ERROR]),
    "dolly_session_cancel": (None, [c_void_p]),
    "dolly_prompt": (c_int32, [c_void_p, c_char_p, c_char_p, c_uint32, POINTER(c_int32), ERROR]),
    "dolly_sampling_default_params": (SamplingParams, []),
    "dolly_generate": (c_int32, [c_void_p, POINTER(SamplingParams), TEXT_CALLBACK, c_void_p, POINTER(GenerateResult),
                                 ERROR]),
    "dolly_eval": (c_int32, [c_void_p, POINTER(c_int32), c_size_t, ERROR]),
    "dolly_get_logits": (c_int32, [c_void_p, POINTER(c_float), c_size_t, POINTER(c_size_t), ERROR]),
}


def _candidates():
    """Where the library may be: $DOLLY_LIBRARY, the copy bundled at install time, the system's."""
    if os.environ.get("DOLLY_LIBRARY"):
        yield os.environ["DOLLY_LIBRARY"]
    bundled = Path(__file__).with_name(LIBRARY_NAME)
    if bundled.is_file():
        yield str(bundled)
    found = ctypes.util.find_library("DollyC")
    if found:
        yield found


def load():
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as error:
            tried.append(f"{path}: {error}")
    else:
        raise ImportError("dollycpu: libdolly (libDollyC.so) not found; build it with `swift build -c release "
                          "--product DollyC` and set DOLLY_LIBRARY to its path, or reinstall the package after "
                          "building it" + ("".join("\n  " + t for t in tried)))
    for name, (restype, argtypes) in SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    if lib.dolly_abi_version() != ABI_VERSION:
        raise ImportError(f"dollycpu: {path} has ABI {lib.dolly_abi_version()}, this package speaks {ABI_VERSION}")
    lib.path = path
    return lib
