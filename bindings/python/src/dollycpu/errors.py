"""Exceptions carrying libdolly's status and message."""


class DollyError(Exception):
    """A libdolly call failed: `status` is the code (e.g. 4), `status_name` its name
    ("DOLLY_ERR_NOT_FOUND"), and the message is the library's."""

    def __init__(self, status, status_name, message):
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.message = message


class InvalidArgumentError(DollyError, ValueError):
    """A value out of range, text that is not UTF-8, a token id outside the vocabulary, a bad grammar."""


class ModelNotFoundError(DollyError, FileNotFoundError):
    """The model's file or folder does not exist."""


class ModelFormatError(DollyError):
    """A damaged, truncated or unsupported model file, config, tokenizer or checkpoint."""


class ContextError(DollyError):
    """The prompt does not fit the context, or the context is not one the model can have."""


class BusyError(DollyError):
    """The session is in use by another call."""


# status -> class; others are DollyError
CLASSES = {1: InvalidArgumentError, 3: InvalidArgumentError, 4: ModelNotFoundError, 5: ModelFormatError,
           6: ContextError, 7: InvalidArgumentError, 9: BusyError}
