"""The explanation chain: grounded in the tagger's findings and the turns, private, injection-safe.

`build_chain(llm)` (analyzer.chain.explainer) is the one LangChain runnable {"dialogue", "prediction"} -> Explanation
that the CLI, the service, the web demo and `Analyzer.explain` run, through `make_explainer(...)` / `Explainer`.
Backends: none (offline, grounded), local[:PATH.gguf] (llama.cpp), openai:MODEL, ollama:MODEL, hf:PATH.
"""
from __future__ import annotations

from typing import Any


def make_explainer(llm: Any = None, on_token=None, timeout: float = 60.0, **kwargs):
    """An Explainer from a backend spec string ('none', 'openai:MODEL', ...), a LangChain chat model, or None."""
    from analyzer.chain.backends import make_chat_model, parse_spec
    from analyzer.chain.explainer import Explainer

    if llm is None or isinstance(llm, str):
        spec = parse_spec(llm)
        return Explainer(make_chat_model(spec, timeout=timeout), spec.label, on_token=on_token, **kwargs)
    return Explainer(llm, getattr(llm, "model_name", None) or type(llm).__name__, on_token=on_token, **kwargs)
