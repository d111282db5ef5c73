"""Fit what the dev split decides: a risk temperature, per-tactic thresholds and the alert threshold."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from analyzer.evaluation.metrics import early_warning, turn_metrics
from analyzer.predict import Decision, first_alert
from analyzer.taxonomy import TACTIC_IDS

GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_temperature(final_probs: Sequence[float], labels: Sequence[int]) -> float:
    """Temperature minimising the dev log-loss of the dialogue probability (grid search, robust on small sets)."""
    logits, y = _logit(np.asarray(final_probs)), np.asarray(labels, dtype=float)
    best, best_t = math.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.3), np.log(6.0), 120)):
        p = 1 / (1 + np.exp(-logits / t))
        loss = -np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9))
        if loss < best:
            best, best_t = loss, float(t)
    return best_t


def rescale(probs: Sequence[float], temperature: float) -> list[float]:
    return (1 / (1 + np.exp(-_logit(np.asarray(probs)) / temperature))).tolist()


def fit_tactic_thresholds(gold: list[list[str]], probs: list[dict[str, float]], tactics=TACTIC_IDS) -> dict[str, float]:
    """Per tactic, the grid threshold with the best F1 on these turns."""
    thresholds = {}
    for tactic in tactics:
        y = np.array([tactic in g for g in gold])
        p = np.array([pr[tactic] for pr in probs])
        best_f1, best_t = -1.0, 0.5
        for t in GRID:
            pred = p >= t
            tp, fp, fn = (pred & y).sum(), (pred & ~y).sum(), (~pred & y).sum()
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            if f1 > best_f1 + 1e-9:
                best_f1, best_t = f1, float(t)
        thresholds[tactic] = best_t
    return thresholds


def selection_score(gold: list[list[str]], probs: list[dict[str, float]], tactics=TACTIC_IDS) -> float:
    """Mean of turn micro- and macro-F1 with thresholds fitted on the same turns: what picks epochs and mixing."""
    decision = Decision(tactic_thresholds=fit_tactic_thresholds(gold, probs, tactics))
    metrics = turn_metrics(gold, [decision.predicted(p) for p in probs], tactics)
    return round(float(metrics["micro_f1"] + metrics["macro_f1"]) / 2, 5)


def fit_alert_threshold(risks: list[list[float]], labels: list[int], max_benign_alert_rate: float = 0.03,
                        floor: float = 0.3) -> float:
    """The lowest threshold at which at most `max_benign_alert_rate` of benign dev calls ever raise the alert.

    Candidates are the benign calls' own peak risks (calibrated risks crowd near 1, so a fixed grid is too coarse).
    """
    peaks = np.sort(np.array([max(r) for r, y in zip(risks, labels) if y == 0]))[::-1]
    if peaks.size == 0:
        return floor
    allowed = int(np.floor(max_benign_alert_rate * peaks.size))
    if allowed >= peaks.size:
        return floor
    threshold = float(np.ceil((peaks[allowed] + 1e-5) * 1e4) / 1e4)
    return min(max(floor, threshold), 0.9999)


def fit_scam_threshold(final_probs: Sequence[float], labels: Sequence[int], lookalike: Sequence[bool],
                       max_lookalike_fpr: float = 0.03) -> float:
    """The lowest threshold (at least 0.5) whose false-positive rate on benign look-alikes is within the target."""
    probs = np.asarray(final_probs)
    look = np.asarray(lookalike, dtype=bool) & (np.asarray(labels) == 0)
    if not look.any():
        return 0.5
    for t in np.round(np.arange(0.50, 0.991, 0.01), 2):
        if (probs[look] >= t).mean() <= max_lookalike_fpr:
            return float(t)
    return 0.99


def calibrate(dev: list[dict], scores: list, base: Decision | None = None) -> tuple[Decision, float, dict]:
    """dev: gold dialogues; scores: DialogueScores from the model at temperature 1. Returns decision, T, report."""
    labels = [int(d["label"] == "scam") for d in dev]
    temperature = fit_temperature([s.risks[-1] for s in scores], labels)
    risks = [rescale(s.risks, temperature) for s in scores]
    gold_turns = [t.get("tactics") or [] for d in dev for t in d["turns"]]
    prob_turns = [p for s in scores for p in s.tactics]
    decision = Decision(**(base.to_dict() if base else {}))
    decision.tactic_thresholds = fit_tactic_thresholds(gold_turns, prob_turns)
    gold_dialogue_tactics = [[t.get("tactics") or [] for t in d["turns"]] for d in dev]
    decision.alert_threshold = fit_alert_threshold(risks, labels)
    decision.scam_threshold = fit_scam_threshold([r[-1] for r in risks], labels,
                                                 [bool((d.get("meta") or {}).get("lookalike")) for d in dev])
    scam_idx = [i for i, y in enumerate(labels) if y]
    report = {"temperature": temperature,
              "dev_turns": turn_metrics(gold_turns, [decision.predicted(p) for p in prob_turns]),
              "dev_early": early_warning([first_alert(risks[i], decision.alert_threshold) for i in scam_idx],
                                         [gold_dialogue_tactics[i] for i in scam_idx])}
    return decision, temperature, report


def recalibrate(model_dir) -> dict:
    """Calibrate a saved model folder again on the dev split (the shipped fp16 weights) and update its config."""
    import json
    from pathlib import Path

    from analyzer.corpus import load_split
    from analyzer.model.inference import NeuralBackend
    from analyzer.model.train import evaluate_split

    folder = Path(model_dir)
    backend = NeuralBackend.from_pretrained(folder)
    backend.model.config.risk_temperature = 1.0
    dev = load_split("dev")
    decision, temperature, report = calibrate(dev, evaluate_split(backend, dev))
    config = json.loads((folder / "config.json").read_text())
    config["risk_temperature"], config["decision"] = temperature, decision.to_dict()
    (folder / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    meta_path = folder / "training_args.json"
    meta = json.loads(meta_path.read_text())
    meta["calibration"] = report
    meta["recalibrated_with"] = f"python -m analyzer.model.calibration {folder}"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    return report


if __name__ == "__main__":
    import sys
    result = recalibrate(sys.argv[1] if len(sys.argv) > 1 else "models/scam-tagger-zh")
    print({"temperature": result["temperature"], "dev_micro_f1": result["dev_turns"]["micro_f1"],
           "dev_macro_f1": result["dev_turns"]["macro_f1"], "dev_early": result["dev_early"]})
