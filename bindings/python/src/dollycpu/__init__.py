"""dollycpu: Databricks' Dolly v2 on CPUs, from Python (ctypes over libdolly, the dolly project's C API).

    from dollycpu import Model
    model = Model("models/dolly-demo")                 # a .dolly file or a Hugging Face folder
    print(model.generate("Who is quoted in this text?", context="...", greedy=True))
    for piece in model.generate("Name three rivers.", stream=True, max_tokens=64, temperature=0.7):
        print(piece, end="", flush=True)
"""
from .errors import (BusyError, ContextError, DollyError, InvalidArgumentError, ModelFormatError,
                     ModelNotFoundError)
from .model import GenerationResult, Grammar, Model, Session, library_version

__all__ = ["Model", "Session", "Grammar", "GenerationResult", "DollyError", "InvalidArgumentError",
           "ModelNotFoundError", "ModelFormatError", "ContextError", "BusyError", "library_version"]
