"""Fit what the selection set decides: the context-risk temperature, per-tactic thresholds and the verdict."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss, precision_recall_curve

from analyzer.corpus import gold_tactics
from analyzer.decision import Decision, run_verdict
from analyzer.metrics import early_warning, turn_metrics
from analyzer.predict import DialogueScores
from analyzer.schema import Dialogue
from analyzer.taxonomy import TACTIC_IDS
from analyzer.training.verdict import fit_verdict


def score_dialogues(backend, dialogues: list[dict], batch: int = 16) -> list[DialogueScores]:
    """A backend's raw scores for gold dialogues (dicts), in batches."""
    out = []
    for i in range(0, len(dialogues), batch):
        out += backend.score_many([Dialogue.model_validate(d) for d in dialogues[i:i + batch]])
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_temperature(final_probs: Sequence[float], labels: Sequence[int]) -> float:
    """The temperature minimising the log-loss of the dialogue-level context risk."""
    logits, y = _logit(np.asarray(final_probs)), np.asarray(labels)
    if y.min() == y.max():
        return 1.0
    result = minimize_scalar(lambda t: log_loss(y, 1 / (1 + np.exp(-logits / t)), labels=[0, 1]),
                             bounds=(0.3, 6.0), method="bounded")
    return float(result.x)


def rescale(probs: Sequence[float], temperature: float) -> list[float]:
    return (1 / (1 + np.exp(-_logit(np.asarray(probs)) / temperature))).tolist()


def fit_tactic_thresholds(gold: list[list[str]], probs: list[dict[str, float]], tactics=TACTIC_IDS) -> dict[str, float]:
    """Per tactic, the threshold with the best F1 on these turns (scikit-learn's precision-recall curve)."""
    thresholds = {}
    for tactic in tactics:
        y = np.array([tactic in g for g in gold])
        if not y.any():
            thresholds[tactic] = 0.5
            continue
        precision, recall, cuts = precision_recall_curve(y, np.array([pr[tactic] for pr in probs]))
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        thresholds[tactic] = round(float(np.clip(cuts[int(np.argmax(f1))], 0.05, 0.95)), 4)
    return thresholds


def selection_score(gold: list[list[str]], probs: list[dict[str, float]], tactics=TACTIC_IDS) -> float:
    """Mean of turn micro- and macro-F1 with thresholds fitted on the same turns: what picks epochs and mixing."""
    decision = Decision(tactic_thresholds=fit_tactic_thresholds(gold, probs, tactics))
    metrics = turn_metrics(gold, [decision.predicted(p) for p in probs], tactics)
    return round(float((metrics["micro_f1"] or 0.0) + (metrics["macro_f1"] or 0.0)) / 2, 5)


def calibrate(selection: list[dict], scores: list[DialogueScores], verdict: str | None = None) -> tuple[Decision, float, dict]:
    """selection: gold dialogues never trained on; scores: the backend's at temperature 1. -> decision, T, report."""
    labels = [int(d["label"] == "scam") for d in selection]
    temperature = fit_temperature([max(s.risks) for s in scores], labels)
    scaled = [replace(s, risks=rescale(s.risks, temperature)) for s in scores]
    gold_turns = [g for d in selection for g in gold_tactics(d)]
    prob_turns = [p for s in scaled for p in s.tactics]
    decision = Decision(tactic_thresholds=fit_tactic_thresholds(gold_turns, prob_turns))
    decision, verdict_report = fit_verdict(decision, selection, scaled, option=verdict)
    scam_idx = [i for i, y in enumerate(labels) if y]
    alerts = [run_verdict(decision, scaled[i].tactics, scaled[i].risks)[0].alert_turn for i in scam_idx]
    report = {"temperature": temperature, "verdict": verdict_report,
              "selection_turns": {k: v for k, v in turn_metrics(gold_turns, [decision.predicted(p) for p in prob_turns]).items()
                                  if k != "per_tactic"},
              "selection_early": early_warning(alerts, [gold_tactics(selection[i]) for i in scam_idx])}
    return decision, temperature, report
