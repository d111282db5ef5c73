"""Parse and check an LLM's answer: JSON (LangChain's JsonOutputParser: a bare object or one in a code fence), the
schema, cited turns that exist, verbatim quotes, known tactic ids, and the language (Chinese).

A failed answer raises `InvalidAnswer` (the chain then asks for one repair) and, after the repair, `RejectedAnswer`
(the chain then falls back to the grounded explanation). Both carry `kind`: "garbage" (no JSON object matching the
schema: a refusal, prose, a truncated or malformed object), "invalid" (cited turns, quotes or tactic ids wrong, a
placeholder of the answer format copied ("quote": "逐字摘录"), a risk level that contradicts the verdict) or
"language" (not written in Chinese), and the error lines sent back in the repair prompt. The error lines quote the
answer as the LLM wrote it (masked): nothing personal goes back to the backend in a repair.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from pydantic import ValidationError

from analyzer.chain.schema import LLMAnswer
from analyzer.schema import Dialogue
from analyzer.taxonomy import TACTIC_BY_ID

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")
KINDS = ("garbage", "invalid", "language")
# the placeholder texts of the answer format in prompts/explain.zh.v*.yaml: a small model copies them
TEMPLATE_TEXTS = {"逐字摘录", "为什么这是诈骗手法", "理由", "id", "轮次", "reasoning", "quote"}
TEMPLATE_PREFIXES = ("给当事人的可操作建议",)
RISK_OF_VERDICT = {"scam": "danger", "uncertain": "caution", "benign": "safe"}


class InvalidAnswer(ValueError):
    """The LLM's answer failed parsing or validation (kind: garbage | invalid | language)."""

    def __init__(self, kind: str, errors: list[str], raw: str = ""):
        super().__init__(f"{kind} answer: " + "; ".join(errors))
        self.kind = kind
        self.errors = errors
        self.raw = raw


class RejectedAnswer(InvalidAnswer):
    """The answer was still invalid after the one repair round."""

    @classmethod
    def of(cls, error: InvalidAnswer) -> "RejectedAnswer":
        return cls(error.kind, error.errors, error.raw)


def parse_json(raw: str) -> dict:
    """The answer's JSON object, through LangChain's JsonOutputParser (raises InvalidAnswer "garbage")."""
    from langchain_core.exceptions import OutputParserException
    from langchain_core.output_parsers import JsonOutputParser

    try:
        data = JsonOutputParser().parse(raw)
    except OutputParserException:
        data = None
    if not isinstance(data, dict):
        raise InvalidAnswer("garbage", ["the answer is not a JSON object (a refusal, prose or a malformed object); "
                                        "output only the JSON object"], raw)
    return data


def _normal(s: str) -> str:
    return re.sub(r"\s+", "", s)


def is_template(text: Optional[str]) -> bool:
    """True for a placeholder copied from the prompt's answer format instead of a real explanation."""
    value = (text or "").strip().strip("。.")
    return value in TEMPLATE_TEXTS or value.startswith(TEMPLATE_PREFIXES)


def not_chinese(texts: list[str]) -> bool:
    """True when the free text is written mostly in a Latin-script language instead of Chinese."""
    joined = PLACEHOLDER.sub("", " ".join(t for t in texts if t))
    latin, cjk = len(LATIN.findall(joined)), len(CJK.findall(joined))
    return latin >= 12 and latin > 2 * cjk


def validate_answer(raw: str, dialogue: Dialogue, unmask: Callable[[str], str] = lambda s: s) -> LLMAnswer:
    """Parse and validate the raw answer; returns it with quotes and text restored (unmasked), or raises
    InvalidAnswer."""
    data = parse_json(raw)
    try:
        answer = LLMAnswer.model_validate(data)
    except ValidationError as err:
        raise InvalidAnswer("garbage", [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5]],
                            raw) from None
    errors = []
    if answer.risk_level != RISK_OF_VERDICT[answer.verdict]:
        errors.append(f"risk_level {answer.risk_level!r} does not match verdict {answer.verdict!r} "
                      f"(scam: danger, uncertain: caution, benign: safe)")
    templates = [f"step {k}: {field} {getattr(step, field)!r} is the format's placeholder, not an explanation"
                 for k, step in enumerate(answer.steps) for field in ("quote", "reasoning")
                 if is_template(getattr(step, field))]
    templates += [f"advice {a[:30]!r} is the format's placeholder" for a in answer.advice if is_template(a)]
    if is_template(answer.override_reason):
        templates.append(f"override_reason {answer.override_reason!r} is the format's placeholder: null or a reason")
    errors += templates
    n = len(dialogue.turns)
    for k, step in enumerate(answer.steps):
        if step.tactic not in TACTIC_BY_ID:
            errors.append(f"step {k}: unknown tactic id {step.tactic!r}")
        bad = [t for t in step.turns if not 0 <= t < n]
        if not step.turns or bad:
            errors.append(f"step {k}: cited turn(s) {bad or step.turns} do not exist (the dialogue has turns 0..{n - 1})")
            continue
        written = step.quote
        step.quote = unmask(step.quote)
        step.reasoning = unmask(step.reasoning)
        if not step.quote.strip() or _normal(step.quote) not in _normal(dialogue.turns[step.turns[0]].text):
            errors.append(f"step {k}: quote {written[:40]!r} is not verbatim from turn {step.turns[0]}")
    if errors:
        raise InvalidAnswer("invalid", errors, raw)
    if not_chinese([s.reasoning for s in answer.steps] + list(answer.advice) + [answer.override_reason or ""]):
        raise InvalidAnswer("language", ["reasoning and advice must be written in Simplified Chinese"], raw)
    answer.advice = [unmask(a) for a in answer.advice]
    if answer.override_reason:
        answer.override_reason = unmask(answer.override_reason)
    return answer


def check_answer(raw: str, dialogue: Dialogue, unmask=lambda s: s) -> tuple[Optional[LLMAnswer], list[str]]:
    """Parse and validate; returns (answer with quotes restored, []) or (None, errors)."""
    try:
        return validate_answer(raw, dialogue, unmask), []
    except InvalidAnswer as err:
        return None, err.errors


def text_of(message: Any) -> str:
    """The text of a chat message (or a plain string); content blocks are joined."""
    content = getattr(message, "content", message)
    if isinstance(content, list):
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
