"""Explanation quality for the evaluation suite, for the backend named by $SCAM_ANALYZER_LLM (default none: the
offline grounded explainer; `local`, `openai:MODEL`, `ollama:MODEL` ... run the LLM chain).

Grounding (every backend):
- cited_turn_validity: share of steps whose cited turns exist;
- verbatim_quote_rate: share of steps whose quote is a verbatim substring of the cited turn;
- step_tactic_precision: share of steps whose tactic is a gold tactic of the cited turn;
- step_tactic_recall: share of (dialogue, gold tactic) pairs that some step names;
- added_steps, added_step_precision: the steps the LLM added to the tagger's skeleton, and the share of them whose
  tactic is a gold tactic of the cited turn (None without an LLM or without added steps).
The LLM (None for the grounded explainer):
- validity_rate: share of dialogues whose LLM answer passed validation (first answer or after the one repair);
  first_answer_validity_rate: without the repair;
- fallback_rate: share of dialogues that fell back to the grounded explanation; fallback_causes: counts by cause
  (backend unreachable, backend timeout, garbage answer, invalid answer, answer in the wrong language, ...);
- latency_ms_mean/_p50/_p95, input_tokens_mean, output_tokens_mean, attempts_mean: from Explanation.usage.
Repeat-run consistency (every backend): `repeats` runs (default 5) of the same input on a sample of dialogues
(default 20, $SCAM_ANALYZER_EVAL_CONSISTENCY; 0 skips it); verdict_consistency is the share whose final verdict was
the same every time (5 of 5), llm_verdict_consistency the same for the LLM's own verdict. The chat models run at
temperature 0. $SCAM_ANALYZER_EVAL_LLM_LIMIT caps how many dialogues an LLM backend explains (it is slow on a CPU).
"""
from __future__ import annotations

import os
import random
import re
from typing import Optional

import numpy as np

from analyzer.schema import Dialogue

ENV_CONSISTENCY = "SCAM_ANALYZER_EVAL_CONSISTENCY"
ENV_LIMIT = "SCAM_ANALYZER_EVAL_LLM_LIMIT"


def _env_int(name: str, default: Optional[int]) -> Optional[int]:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default


def _cause(detail: Optional[str]) -> str:
    return (detail or "unknown").split(":")[0].replace(" after one repair", "")


def _share(values: list[bool]) -> Optional[float]:
    return float(np.mean(values)) if values else None


def _stat(values: list[float], fn) -> Optional[float]:
    return round(float(fn(values)), 1) if values else None


def explanation_metrics(gold: list[dict], preds: list, llm=None, repeats: int = 5,
                        consistency_sample: Optional[int] = None, limit: Optional[int] = None, seed: int = 0) -> dict:
    from analyzer.chain import make_explainer
    from analyzer.chain.grounded import steps_from_prediction

    explainer = make_explainer(llm)
    uses_llm = explainer.llm is not None
    consistency_sample = _env_int(ENV_CONSISTENCY, 20) if consistency_sample is None else consistency_sample
    limit = (_env_int(ENV_LIMIT, None) if limit is None else limit) if uses_llm else None
    rows = [(Dialogue.model_validate(row), p) for row, p in zip(gold, preds) if p is not None]
    rows = rows[:limit] if limit else rows

    steps = valid = verbatim = correct = added = added_correct = 0
    gold_pairs = covered = 0
    statuses: dict[str, int] = {}
    causes: dict[str, int] = {}
    latency, tokens_in, tokens_out, attempts = [], [], [], []
    for dialogue, prediction in rows:
        explanation = explainer.invoke({"dialogue": dialogue, "prediction": prediction})
        statuses[explanation.status] = statuses.get(explanation.status, 0) + 1
        if explanation.status == "fallback":
            cause = _cause(explanation.status_detail)
            causes[cause] = causes.get(cause, 0) + 1
        if uses_llm:
            latency.append(explanation.usage.latency_ms)
            tokens_in.append(explanation.usage.input_tokens)
            tokens_out.append(explanation.usage.output_tokens)
            attempts.append(explanation.usage.attempts)
        skeleton = {(s.turns[0], s.tactic) for s in steps_from_prediction(dialogue, prediction)}
        named = set()
        for step in explanation.steps:
            steps += 1
            named.add(step.tactic)
            if not step.turns or not all(0 <= t < len(dialogue.turns) for t in step.turns):
                continue
            valid += 1
            turn = dialogue.turns[step.turns[0]]
            verbatim += re.sub(r"\s+", "", step.quote) in re.sub(r"\s+", "", turn.text) and bool(step.quote.strip())
            hit = step.tactic in (turn.tactics or [])
            correct += hit
            if explanation.written_by_llm and (step.turns[0], step.tactic) not in skeleton:
                added += 1
                added_correct += hit
        gold_tactics = {t for turn in dialogue.turns for t in (turn.tactics or [])}
        gold_pairs += len(gold_tactics)
        covered += len(gold_tactics & named)

    n = len(rows)
    answered = statuses.get("ok", 0) + statuses.get("repaired", 0)
    result = {"backend": explainer.backend, "dialogues": n, "steps": steps, "statuses": statuses,
              "cited_turn_validity": valid / steps if steps else None,
              "verbatim_quote_rate": verbatim / steps if steps else None,
              "step_tactic_precision": correct / steps if steps else None,
              "step_tactic_recall": covered / gold_pairs if gold_pairs else None,
              "added_steps": added if uses_llm else None,
              "added_step_precision": added_correct / added if added else None,
              "validity_rate": answered / n if uses_llm and n else None,
              "first_answer_validity_rate": statuses.get("ok", 0) / n if uses_llm and n else None,
              "fallback_rate": statuses.get("fallback", 0) / n if uses_llm and n else None,
              "fallback_causes": causes,
              "latency_ms_mean": _stat(latency, np.mean), "latency_ms_p50": _stat(latency, np.median),
              "latency_ms_p95": _stat(latency, lambda v: np.percentile(v, 95)),
              "input_tokens_mean": _stat(tokens_in, np.mean), "output_tokens_mean": _stat(tokens_out, np.mean),
              "attempts_mean": _stat(attempts, np.mean)}
    result.update(consistency(explainer, rows, repeats, consistency_sample, seed))
    return result


def consistency(explainer, rows: list, repeats: int, sample: int, seed: int = 0) -> dict:
    """Run the same inputs `repeats` times: the share of sampled dialogues whose verdict never changed."""
    if repeats < 2 or sample <= 0 or not rows:
        return {"consistency_dialogues": 0, "consistency_repeats": repeats, "verdict_consistency": None,
                "llm_verdict_consistency": None}
    picked = random.Random(seed).sample(rows, min(sample, len(rows)))
    same, same_llm = [], []
    for dialogue, prediction in picked:
        runs = [explainer.invoke({"dialogue": dialogue, "prediction": prediction}) for _ in range(repeats)]
        same.append(len({r.verdict for r in runs}) == 1)
        same_llm.append(len({r.llm_verdict for r in runs}) == 1)
    return {"consistency_dialogues": len(picked), "consistency_repeats": repeats, "verdict_consistency": _share(same),
            "llm_verdict_consistency": _share(same_llm) if explainer.llm is not None else None}
