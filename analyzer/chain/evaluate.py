"""Explanation metrics for the evaluation suite: are the explanations grounded in the turns and the gold labels?

- cited_turn_validity: share of steps whose cited turns exist;
- verbatim_quote_rate: share of steps whose quote is a verbatim substring of the cited turn;
- step_tactic_precision: share of steps whose tactic is a gold tactic of the cited turn;
- step_tactic_recall: share of (dialogue, gold tactic) pairs that some step names.
The explainer is the offline grounded one unless $SCAM_ANALYZER_LLM names an LLM backend.
"""
from __future__ import annotations

import re

from analyzer.schema import Dialogue


def explanation_metrics(gold: list[dict], preds: list, llm=None) -> dict:
    from analyzer.chain import make_explainer

    explainer = make_explainer(llm)
    steps = valid = verbatim = correct = 0
    gold_pairs = covered = 0
    statuses: dict[str, int] = {}
    for row, prediction in zip(gold, preds):
        if prediction is None:
            continue
        dialogue = Dialogue.model_validate(row)
        explanation = explainer.explain(dialogue, prediction)
        statuses[explanation.status] = statuses.get(explanation.status, 0) + 1
        named = set()
        for step in explanation.steps:
            steps += 1
            named.add(step.tactic)
            if not step.turns or not all(0 <= t < len(dialogue.turns) for t in step.turns):
                continue
            valid += 1
            turn = dialogue.turns[step.turns[0]]
            verbatim += re.sub(r"\s+", "", step.quote) in re.sub(r"\s+", "", turn.text) and bool(step.quote.strip())
            correct += step.tactic in (turn.tactics or [])
        gold_tactics = {t for turn in dialogue.turns for t in (turn.tactics or [])}
        gold_pairs += len(gold_tactics)
        covered += len(gold_tactics & named)
    return {"backend": explainer.backend, "steps": steps, "statuses": statuses,
            "cited_turn_validity": valid / steps if steps else None,
            "verbatim_quote_rate": verbatim / steps if steps else None,
            "step_tactic_precision": correct / steps if steps else None,
            "step_tactic_recall": covered / gold_pairs if gold_pairs else None}
