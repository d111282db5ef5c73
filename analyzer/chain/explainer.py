"""The grounded explanation chain: masked dialogue + model findings -> LLM -> validated, combined Explanation.

`build_chain(llm)` returns a LangChain runnable whose input is {"dialogue": Dialogue, "prediction": Prediction}
and whose output is an `Explanation`. With no LLM (`none`) it is the offline grounded explainer. With an LLM:
personal data are masked before the call and restored after; the answer is validated (cited turns exist, quotes
are verbatim, tactic ids known); one repair round, then the grounded explanation with status "fallback". The
verdict combines the model's score and the LLM's reading, and the LLM cannot turn a high model risk into "safe".
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

from analyzer.chain.grounded import ADVICE, grounded_explanation, model_verdict
from analyzer.chain.guard import injection_suspected
from analyzer.chain.masking import Masker
from analyzer.chain.prompts import explain_prompt, repair_message
from analyzer.chain.schema import Explanation, LLMAnswer, Usage
from analyzer.chain.validate import check_answer
from analyzer.decision import LEVEL_OF_VERDICT
from analyzer.schema import Dialogue, Prediction
from analyzer.taxonomy import TACTICS


# The LLM alone raises a call the model did not alert on to "scam" only when it is at least this sure of its verdict
# (confidence is defined in the prompt as the probability that its own verdict is right); otherwise "uncertain".
LLM_SURE = 0.7


def findings_text(prediction: Prediction) -> str:
    rows = {"scam_probability": prediction.scam_probability, "risk_level": prediction.risk_level,
            "alert_turn": prediction.alert_turn,
            "turns": [{"turn": t.index, "tactics": {k: round(t.tactics[k], 2) for k in t.predicted}}
                      for t in prediction.turns if t.predicted]}
    return json.dumps(rows, ensure_ascii=False)


def dialogue_text(dialogue: Dialogue, masker: Masker) -> str:
    return "\n".join(f"[{i}] {masker.mask(t.speaker)}：{masker.mask(t.text)}" for i, t in enumerate(dialogue.turns))


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


def _text_of(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def _usage_of(message: Any, usage: Usage, prompt_chars: int) -> None:
    meta = getattr(message, "usage_metadata", None) or {}
    usage.input_tokens += int(meta.get("input_tokens") or prompt_chars // 2)
    usage.output_tokens += int(meta.get("output_tokens") or len(_text_of(message)) // 2)


class Explainer:
    """Call the LLM with retries and backoff, validate, repair once, fall back to the grounded explanation."""

    def __init__(self, llm: Any = None, backend: str = "none", retries: int = 2, backoff: float = 1.0,
                 on_token: Optional[Callable[[str], None]] = None):
        self.llm = llm
        self.backend = backend
        self.retries = retries
        self.backoff = backoff
        self.on_token = on_token
        self.prompt = explain_prompt() if llm is not None else None

    def _call(self, messages: list, usage: Usage) -> Any:
        last_error = None
        for attempt in range(self.retries + 1):
            usage.attempts += 1
            try:
                if self.on_token is not None and hasattr(self.llm, "stream"):
                    chunks = None
                    for chunk in self.llm.stream(messages):
                        self.on_token(_text_of(chunk))
                        chunks = chunk if chunks is None else chunks + chunk
                    return chunks
                return self.llm.invoke(messages)
            except Exception as err:  # timeouts, connection errors, server errors
                last_error = err
                if attempt < self.retries:
                    time.sleep(self.backoff * (2 ** attempt))
        raise RuntimeError(f"{type(last_error).__name__}: {str(last_error)[:200]}")

    def ask(self, dialogue: Dialogue, findings: str) -> tuple[Optional[LLMAnswer], Usage, Optional[str], int]:
        """Masked prompt -> LLM -> validated answer (one repair round). Returns (answer or None, usage, error, round)."""
        masker = Masker()
        masker.learn_names([t.speaker for t in dialogue.turns], [t.text for t in dialogue.turns])
        tactics = "\n".join(f"  - {t.id}（{t.zh}）：{t.definition}" for t in TACTICS)
        messages = self.prompt.format_messages(tactics=tactics, findings=findings,
                                               dialogue=dialogue_text(dialogue, masker))
        usage = Usage()
        started = time.perf_counter()
        detail = None
        try:
            for round_ in range(2):  # the answer, then one repair
                reply = self._call(messages, usage)
                _usage_of(reply, usage, sum(len(_text_of(m)) for m in messages))
                answer, errors = check_answer(_text_of(reply), dialogue, masker.unmask)
                if answer is not None:
                    usage.latency_ms = round((time.perf_counter() - started) * 1000, 1)
                    return answer, usage, None, round_
                from langchain_core.messages import AIMessage, HumanMessage
                messages = messages + [AIMessage(content=_text_of(reply)), HumanMessage(content=repair_message(errors))]
            detail = "invalid answer after one repair: " + "; ".join(errors)[:300]
        except RuntimeError as err:
            detail = f"backend error: {err}"
        usage.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return None, usage, detail, 2

    def explain(self, dialogue: Dialogue, prediction: Prediction) -> Explanation:
        if self.llm is None:
            return grounded_explanation(dialogue, prediction)
        answer, usage, detail, round_ = self.ask(dialogue, findings_text(prediction))
        if answer is not None:
            return combine(dialogue, prediction, answer, self.backend, "ok" if round_ == 0 else "repaired", usage,
                           injection_suspected(dialogue))
        fallback = grounded_explanation(dialogue, prediction, status="fallback", detail=detail, backend=self.backend)
        fallback.usage = usage
        return fallback


def build_chain(llm: Any = None, backend: str = "none", **kwargs):
    """A LangChain runnable: {"dialogue", "prediction"} -> Explanation."""
    from langchain_core.runnables import RunnableLambda

    explainer = Explainer(llm, backend, **kwargs)
    return RunnableLambda(lambda inputs: explainer.explain(inputs["dialogue"], inputs["prediction"]),
                          name="scam_explanation")
