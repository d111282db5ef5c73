"""The explanation chain: one LangChain runnable, {"dialogue", "prediction"} -> `Explanation`.

`build_chain(llm)` is what the CLI, the service, the web demo and `Analyzer.explain` all run (through `Explainer`):

    mask     personal data -> stable placeholders; the injection guard reads the transcript; the tagger's findings
             become the skeleton steps (turn, tactic, a verbatim clause of the masked turn)
    prompt   prompts/explain.zh.v2.yaml (ChatPromptTemplate)
    model    the chat model with structured output where the backend has it (an OpenAI-compatible `response_format`
             JSON schema, llama.cpp's grammar), `.with_retry()` on transport errors only (timeouts, refused
             connections, 5xx, rate limits)
    validate JsonOutputParser, the LLMAnswer schema, cited turns, verbatim quotes, tactic ids, Chinese
             -> one repair round (`.with_fallbacks([repair], exception_key="error")`)
    combine  the tagger's skeleton steps with the LLM's reasoning, plus the steps the LLM added and grounded; the
             final verdict (no LLM answer lowers a model alert); placeholders restored
    `.with_fallbacks([grounded])`: any failure -> the grounded explanation, labelled not written by an LLM, status
             "fallback" and a detail naming the cause (backend unreachable, backend timeout, garbage answer,
             invalid answer, answer in the wrong language, backend error). Never a traceback, never "safe" because
             the LLM failed: the fallback's verdict is the model's.

Streaming: built with `stream=True`, the model streams, and every token reaches the callbacks of the run
(`token_callback(print)` in `config={"callbacks": [...]}`; `astream_events` works too). Usage (tokens from the
backend's usage metadata, else estimated; latency; attempts) is recorded in `Explanation.usage`.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

from analyzer.chain.grounded import ADVICE, best_clause, grounded_explanation, model_verdict, steps_from_prediction
from analyzer.chain.guard import injection_suspected
from analyzer.chain.masking import Masker
from analyzer.chain.prompts import explain_prompt, repair_message
from analyzer.chain.schema import Explanation, LLMAnswer, Step, Usage, answer_json_schema
from analyzer.chain.validate import InvalidAnswer, RejectedAnswer, text_of, validate_answer
from analyzer.decision import LEVEL_OF_VERDICT
from analyzer.schema import Dialogue, Prediction, Turn
from analyzer.taxonomy import TACTICS

# The LLM alone raises a call the model did not alert on to "scam" only when it is at least this sure of its verdict
# (confidence is defined in the prompt as the probability that its own verdict is right); otherwise "uncertain".
LLM_SURE = 0.7
CHAIN_NAME = "scam_explanation"


# ------------------------------------------------------------------------------------------------ errors and causes
def _optional_types(*paths: str) -> tuple[type, ...]:
    found = []
    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


TRANSPORT_TIMEOUTS = (TimeoutError,) + _optional_types("openai.APITimeoutError", "httpx.TimeoutException")
UNREACHABLE_ERRORS = (ConnectionError,) + _optional_types("openai.APIConnectionError", "httpx.TransportError")
# what `.with_retry()` retries: the transport, never the content of an answer (nor a local engine's deadline)
TRANSPORT_ERRORS = TRANSPORT_TIMEOUTS + UNREACHABLE_ERRORS + _optional_types("openai.RateLimitError",
                                                                             "openai.InternalServerError")
TIMEOUT_ERRORS = TRANSPORT_TIMEOUTS + _optional_types("analyzer.chain.local.GenerationTimeout")
CAUSES = {"garbage": "garbage answer", "invalid": "invalid answer", "language": "answer in the wrong language"}


def failure_cause(error: BaseException) -> str:
    """The fallback's status detail: the cause in words, then the particulars."""
    if isinstance(error, InvalidAnswer):
        return f"{CAUSES[error.kind]} after one repair: " + "; ".join(error.errors)[:300]
    what = f"{type(error).__name__}: {str(error)[:200]}"
    if isinstance(error, TIMEOUT_ERRORS):
        return f"backend timeout: {what}"
    if isinstance(error, UNREACHABLE_ERRORS):
        return f"backend unreachable: {what}"
    return f"backend error: {what}"


# ------------------------------------------------------------------------------------------------ the steps
def findings_text(prediction: Prediction) -> str:
    return json.dumps({"scam_probability": prediction.scam_probability, "risk_level": prediction.risk_level,
                       "alert_turn": prediction.alert_turn, "scam_type": prediction.scam_type}, ensure_ascii=False)


def mask_dialogue(dialogue: Dialogue, masker: Masker) -> Dialogue:
    """The dialogue as the LLM sees it: every speaker name and text masked (the same value, the same placeholder)."""
    masker.learn_names([t.speaker for t in dialogue.turns], [t.text for t in dialogue.turns])
    return dialogue.model_copy(update={"turns": [Turn(speaker=masker.mask(t.speaker), text=masker.mask(t.text))
                                                 for t in dialogue.turns]})


def dialogue_text(masked: Dialogue) -> str:
    return "\n".join(f"[{i}] {t.speaker}：{t.text}" for i, t in enumerate(masked.turns))


def skeleton_text(skeleton: list[Step]) -> str:
    if not skeleton:
        return "（检测模型没有找到话术）"
    return "\n".join(json.dumps({"turns": s.turns, "tactic": s.tactic, "quote": s.quote}, ensure_ascii=False)
                     for s in skeleton)


def tactics_text() -> str:
    return "\n".join(f"  - {t.id}（{t.zh}）：{t.definition}" for t in TACTICS)


def prepare(inputs: dict) -> dict:
    """The `mask` step: the masked dialogue, the skeleton steps (from the tagger, on the masked text) and the
    prompt variables; the injection guard's reading; the run's usage record."""
    dialogue = inputs["dialogue"]
    dialogue = dialogue if isinstance(dialogue, Dialogue) else Dialogue.model_validate(dialogue)
    prediction = inputs.get("prediction")  # None: the LLM alone (no findings, no skeleton)
    masker = Masker()
    masked = mask_dialogue(dialogue, masker)
    skeleton = steps_from_prediction(masked, prediction) if prediction is not None else []
    findings = inputs.get("findings") or findings_text(prediction)
    return {"dialogue": dialogue, "prediction": prediction, "masker": masker, "skeleton": skeleton,
            "injected": injection_suspected(dialogue), "usage": Usage(), "round": 0,
            "variables": {"tactics": tactics_text(), "findings": findings,
                          "skeleton": skeleton_text(skeleton), "dialogue": dialogue_text(masked)}}


def _attempt(state: dict) -> list:
    """Counts each call to the backend (retries included) and hands the model its messages."""
    state["usage"].attempts += 1
    return state["messages"]


def _add_usage(usage: Usage, reply: Any, messages: list) -> None:
    meta = getattr(reply, "usage_metadata", None) or {}
    usage.input_tokens += int(meta.get("input_tokens") or sum(len(text_of(m)) for m in messages) // 2)
    usage.output_tokens += int(meta.get("output_tokens") or len(text_of(reply)) // 2)


def _validate(state: dict) -> dict:
    _add_usage(state["usage"], state["reply"], state["messages"])
    try:
        answer = validate_answer(text_of(state["reply"]), state["dialogue"], state["masker"].unmask)
    except InvalidAnswer as err:
        if (getattr(state["reply"], "response_metadata", None) or {}).get("finish_reason") == "length":
            err.errors.insert(0, "the answer was cut off at the token budget: write shorter quotes and reasons")
        raise (RejectedAnswer.of(err) if state["round"] else err) from None
    return {**state, "answer": answer}


def _repair(state: dict) -> dict:
    from langchain_core.messages import AIMessage, HumanMessage

    error: InvalidAnswer = state["error"]
    messages = state["messages"] + [AIMessage(content=error.raw), HumanMessage(content=repair_message(error.errors))]
    return {**{k: v for k, v in state.items() if k not in ("error", "reply")}, "messages": messages, "round": 1}


def _unmasked(step: Step, masker: Masker, dialogue: Dialogue) -> Step:
    quote = masker.unmask(step.quote)
    text = dialogue.turns[step.turns[0]].text
    if quote not in text:  # masking is contextual: a clause of the masked text may not map back exactly
        quote = best_clause(text, step.tactic)
    return step.model_copy(update={"quote": quote, "reasoning": masker.unmask(step.reasoning)})


def merge_steps(skeleton: list[Step], llm_steps: list[Step]) -> list[Step]:
    """The tagger's steps with the LLM's reasoning where it explained them, then the LLM's own (validated) steps."""
    steps, used = [], set()
    for step in skeleton:
        k = next((k for k, s in enumerate(llm_steps)
                  if k not in used and s.tactic == step.tactic and step.turns[0] in s.turns), None)
        if k is not None:
            used.add(k)
            if llm_steps[k].reasoning.strip():
                step = step.model_copy(update={"reasoning": llm_steps[k].reasoning.strip()})
        steps.append(step)
    seen = {(s.turns[0], s.tactic) for s in steps}
    for k, step in enumerate(llm_steps):
        if k not in used and (step.turns[0], step.tactic) not in seen:
            seen.add((step.turns[0], step.tactic))
            steps.append(step)
    return sorted(steps, key=lambda s: s.turns[0])


def combine(dialogue: Dialogue, prediction: Prediction, answer: LLMAnswer, backend: str, status: str,
            usage: Usage, injected: bool) -> Explanation:
    """Final verdict from both readings; a high model risk stays "scam" unless the LLM says why (and no injection)."""
    model_v = model_verdict(prediction)
    llm_v = answer.verdict
    override = answer.override_reason if answer.override_reason and answer.override_reason.strip() else None
    detail = None
    if llm_v == model_v:
        verdict = llm_v
    elif model_v == "scam":  # the model alerted: no LLM answer lowers that
        verdict = "scam"
        if injected:
            detail = "the LLM's lower verdict was ignored: the transcript contains instruction-like text"
        elif override:
            detail = f"the LLM disagreed ({override[:120]}), but the model's alert stands"
        else:
            detail = "the LLM's lower verdict was ignored: the model's alert stands"
        override = None  # kept in the status text only: it changed nothing
    elif llm_v == "scam":
        verdict = "scam" if answer.confidence >= LLM_SURE and not injected else "uncertain"
    else:
        verdict = "uncertain" if "uncertain" in (llm_v, model_v) else "benign"
    risk = LEVEL_OF_VERDICT[verdict]
    return Explanation(id=dialogue.id, verdict=verdict, risk_level=risk, steps=answer.steps,
                       advice=answer.advice or ADVICE[risk], confidence=answer.confidence,
                       model_probability=prediction.scam_probability, model_verdict=model_v, llm_verdict=llm_v,
                       override_reason=override, backend=backend, written_by_llm=True, status=status,
                       status_detail=detail, usage=usage)


def _latency(state: dict) -> Usage:
    usage: Usage = state["usage"]
    usage.latency_ms = round((time.perf_counter() - state["started"]) * 1000, 1)
    return usage


# ------------------------------------------------------------------------------------------------ the model
def constrain(llm: Any, **bound: Any) -> Any:
    """The chat model with structured output where the backend supports it: our llama.cpp model binds its grammar
    (`structured_output_kwargs`), an OpenAI-compatible model the JSON schema as `response_format` (falling back to
    the plain model when the server rejects response_format); any other model is prompted for JSON only. `bound`:
    more call arguments (stream=True)."""
    schema = answer_json_schema()
    if hasattr(llm, "structured_output_kwargs"):
        return llm.bind(**llm.structured_output_kwargs(schema), **bound)
    plain = llm.bind(**bound) if bound else llm
    try:
        import openai
        from langchain_openai import ChatOpenAI
    except ImportError:
        return plain
    if isinstance(llm, ChatOpenAI):
        fmt = {"type": "json_schema", "json_schema": {"name": "scam_explanation", "schema": schema, "strict": False}}
        return llm.bind(response_format=fmt, **bound).with_fallbacks([plain],
                                                                     exceptions_to_handle=(openai.BadRequestError,))
    return plain


class _Grounded:
    """The offline explainer where langchain-core is not installed (the base install): invoke() only."""

    def invoke(self, inputs: dict, config: Any = None) -> Explanation:
        return _grounded(inputs)


def _grounded(inputs: dict) -> Explanation:
    dialogue = inputs["dialogue"]
    dialogue = dialogue if isinstance(dialogue, Dialogue) else Dialogue.model_validate(dialogue)
    return grounded_explanation(dialogue, inputs["prediction"])


def llm_steps(llm: Any, retries: int = 2, backoff: float = 1.0, stream: bool = False, language: str = "zh"):
    """The chain's LLM part: (prompt: state -> messages, answer: state -> state with the validated `answer` and the
    `round` it came in). `answer` is the structured model with transport retries, then validation, with one repair
    round; it raises InvalidAnswer/RejectedAnswer or the transport's error."""
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    model = constrain(llm, **({"stream": True} if stream else {}))
    call = (RunnableLambda(_attempt, name="attempt") | model).with_retry(
        retry_if_exception_type=TRANSPORT_ERRORS, stop_after_attempt=retries + 1,
        wait_exponential_jitter=backoff > 0,
        exponential_jitter_params={"initial": backoff, "max": 30 * backoff, "jitter": backoff / 2} if backoff > 0
        else None)
    prompt = (RunnableLambda(lambda state: state["variables"], name="variables") | explain_prompt(language)
              | RunnableLambda(lambda value: value.to_messages(), name="messages"))
    ask = RunnablePassthrough.assign(reply=call) | RunnableLambda(_validate, name="validate")
    repair = RunnableLambda(_repair, name="repair") | ask
    return prompt, ask.with_fallbacks([repair], exceptions_to_handle=(InvalidAnswer,), exception_key="error")


def build_chain(llm: Any = None, backend: str = "none", retries: int = 2, backoff: float = 1.0,
                stream: bool = False, language: str = "zh"):
    """The explanation chain as one LangChain runnable: {"dialogue": Dialogue, "prediction": Prediction} ->
    Explanation. `llm` None: the offline grounded explainer. `retries` transport retries per call, with exponential
    backoff from `backoff` seconds; `stream`: the model streams its tokens to the run's callbacks."""
    if llm is None:
        try:
            from langchain_core.runnables import RunnableLambda
        except ImportError:
            return _Grounded()
        return RunnableLambda(_grounded, name=CHAIN_NAME)
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    prompt, answer = llm_steps(llm, retries=retries, backoff=backoff, stream=stream, language=language)

    def finish(state: dict) -> Explanation:
        masker, dialogue = state["masker"], state["dialogue"]
        skeleton = [_unmasked(s, masker, dialogue) for s in state["skeleton"]]
        llm_answer: LLMAnswer = state["answer"]
        merged = llm_answer.model_copy(update={"steps": merge_steps(skeleton, llm_answer.steps)})
        return combine(dialogue, state["prediction"], merged, backend, "ok" if state["round"] == 0 else "repaired",
                       _latency(state), state["injected"])

    def fallback(state: dict) -> Explanation:
        explanation = grounded_explanation(state["dialogue"], state["prediction"], status="fallback",
                                           detail=failure_cause(state["error"]), backend=backend)
        explanation.usage = _latency(state)
        return explanation

    explained = (answer | RunnableLambda(finish, name="combine")).with_fallbacks(
        [RunnableLambda(fallback, name="grounded_fallback")], exceptions_to_handle=(Exception,), exception_key="error")
    started = RunnableLambda(lambda _: time.perf_counter(), name="clock")
    return (RunnableLambda(prepare, name="mask") | RunnablePassthrough.assign(messages=prompt, started=started)
            | explained).with_config(run_name=CHAIN_NAME)


# ------------------------------------------------------------------------------------------------ the facade
def token_callback(on_token: Callable[[str], None]):
    """A LangChain callback handler that hands every streamed token to `on_token` (the CLI's --stream)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class TokenCallback(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            if token:
                on_token(token)

    return TokenCallback()


class Explainer:
    """The explanation chain for one backend: `chain` is the runnable; `explain(dialogue, prediction)` invokes it
    (with the token callback when `on_token` is given)."""

    def __init__(self, llm: Any = None, backend: str = "none", retries: int = 2, backoff: float = 1.0,
                 on_token: Optional[Callable[[str], None]] = None):
        self.llm = llm
        self.backend = backend
        self.on_token = on_token
        self.chain = build_chain(llm, backend, retries=retries, backoff=backoff,
                                 stream=on_token is not None and llm is not None)
        self._steps = None
        self._options = {"retries": retries, "backoff": backoff, "stream": on_token is not None}

    def _config(self, config: Optional[dict] = None) -> Optional[dict]:
        config = dict(config or {})
        if self.on_token is not None:
            config["callbacks"] = list(config.get("callbacks") or []) + [token_callback(self.on_token)]
        return config or None

    def invoke(self, inputs: dict, config: Optional[dict] = None) -> Explanation:
        return self.chain.invoke(inputs, config=self._config(config))

    def ask(self, dialogue: Dialogue, findings: str) -> tuple[Optional[LLMAnswer], Usage, Optional[str], int]:
        """The LLM alone with `findings` in place of the tagger's (the evaluation's llm-alone baseline): the chain's
        masking, prompt, model and validation with one repair, no skeleton and no fallback. Returns (the answer or
        None, usage, why there is none, the round it came in: 0, 1, or 2 for none)."""
        if self.llm is None:
            raise ValueError("ask() needs an LLM backend")
        if self._steps is None:
            self._steps = llm_steps(self.llm, **self._options)
        prompt, answer = self._steps
        state = prepare({"dialogue": dialogue, "prediction": None, "findings": findings})
        state.update(messages=prompt.invoke(state), started=time.perf_counter())
        try:
            out = answer.invoke(state, config=self._config())
        except InvalidAnswer as err:
            return None, _latency(state), (f"invalid answer after one repair ({CAUSES[err.kind]}): "
                                           + "; ".join(err.errors)[:300]), 2
        except Exception as err:  # the transport, after the retries
            return None, _latency(state), failure_cause(err), 2
        return out["answer"], _latency(out), None, out["round"]

    def explain(self, dialogue: Dialogue, prediction: Prediction) -> Explanation:
        return self.invoke({"dialogue": dialogue, "prediction": prediction})
