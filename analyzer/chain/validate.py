"""Parse and check an LLM's answer: JSON extraction, cited turns, verbatim quotes, tactic ids."""
from __future__ import annotations

import json
import re
from typing import Optional

from pydantic import ValidationError

from analyzer.chain.schema import LLMAnswer
from analyzer.schema import Dialogue
from analyzer.taxonomy import TACTIC_BY_ID

FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Optional[dict]:
    """The first JSON object in the text: inside a code fence, or the first balanced {...} in prose."""
    candidates = FENCE.findall(text) + [text]
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            depth, in_string, escape = 0, False, False
            for i in range(start, len(candidate)):
                ch = candidate[i]
                if in_string:
                    escape = ch == "\\" and not escape
                    if ch == '"' and not escape:
                        in_string = False
                    continue
                if ch == '"':
                    in_string = True
                elif ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        try:
                            value = json.loads(candidate[start:i + 1])
                            if isinstance(value, dict):
                                return value
                        except json.JSONDecodeError:
                            pass
                        break
            start = candidate.find("{", start + 1)
    return None


def _normal(s: str) -> str:
    return re.sub(r"\s+", "", s)


def check_answer(raw: str, dialogue: Dialogue, unmask=lambda s: s) -> tuple[Optional[LLMAnswer], list[str]]:
    """Parse and validate; returns (answer with quotes restored, []) or (None, errors)."""
    data = extract_json(raw)
    if data is None:
        return None, ["the answer contains no JSON object (a refusal or prose only)"]
    try:
        answer = LLMAnswer.model_validate(data)
    except ValidationError as err:
        return None, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()[:5]]
    errors = []
    n = len(dialogue.turns)
    for k, step in enumerate(answer.steps):
        if step.tactic not in TACTIC_BY_ID:
            errors.append(f"step {k}: unknown tactic id {step.tactic!r}")
        bad = [t for t in step.turns if not 0 <= t < n]
        if not step.turns or bad:
            errors.append(f"step {k}: cited turn(s) {bad or step.turns} do not exist (the dialogue has turns 0..{n - 1})")
            continue
        step.quote = unmask(step.quote)
        step.reasoning = unmask(step.reasoning)
        if not step.quote.strip() or _normal(step.quote) not in _normal(dialogue.turns[step.turns[0]].text):
            errors.append(f"step {k}: quote {step.quote[:40]!r} is not verbatim from turn {step.turns[0]}")
    answer.advice = [unmask(a) for a in answer.advice]
    if answer.override_reason:
        answer.override_reason = unmask(answer.override_reason)
    return (None, errors) if errors else (answer, [])
