"""Errors of model loading, with messages that say how to rebuild."""


class ModelLoadError(RuntimeError):
    pass
