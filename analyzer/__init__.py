"""Chinese scam-call conversation analyzer: turn-level tactics, dialogue risk, grounded explanations."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Analyzer", "__version__"]


def __getattr__(name):
    # keep `import analyzer` light: torch and transformers load only when a model is used
    if name == "Analyzer":
        from analyzer.api import Analyzer
        return Analyzer
    raise AttributeError(name)
