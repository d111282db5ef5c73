"""Fit the verdict (analyzer.decision): a monotone logistic regression over a call's running tactic evidence.

Non-negative weights over running maxima make the risk non-decreasing along the call, so one fitted function
serves batch and live. The options (the backend's context risk alone, tactics alone, both) are compared by
cross-validation grouped by scam type and benign situation, so the choice rewards what transfers to kinds of call
the fit did not see; the winner is refitted on the whole selection set.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
from scipy.optimize import minimize

from analyzer.decision import FEATURES, Decision, RunningVerdict, call_features, run_verdict

OPTIONS = {
    "context": ("context_risk",),
    "tactics": tuple(f for f in FEATURES if f != "context_risk"),
    "tactics+context": FEATURES,
}


def final_features(scores) -> dict[str, float]:
    """The features at the end of one call (running maxima over all its turns)."""
    verdict = RunningVerdict(Decision())
    for row, risk in zip(scores.tactics, scores.risks):
        verdict.update(row, risk)
    return call_features(verdict.maxima, verdict.context_risk)


def fit_monotone_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.3) -> tuple[float, np.ndarray]:
    """Logistic regression with weights >= 0 (L-BFGS-B bounds), class-balanced, lightly L2-regularised."""
    pos = y.mean() if 0 < y.mean() < 1 else 0.5
    sample = np.where(y == 1, 0.5 / pos, 0.5 / (1 - pos))

    def loss(params):
        z = params[0] + x @ params[1:]
        p = 1 / (1 + np.exp(-z))
        nll = -(sample * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum() / len(y)
        grad_z = sample * (p - y) / len(y)
        grad = np.concatenate([[grad_z.sum()], x.T @ grad_z + 2 * l2 * params[1:] / len(y)])
        return nll + l2 * (params[1:] ** 2).sum() / len(y), grad

    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), result.x[1:]


def _matrix(features: list[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[f[n] for n in names] for f in features], dtype=float)


def group_of(dialogue: dict) -> str:
    meta = dialogue.get("meta") or {}
    return dialogue.get("scam_type") or meta.get("benign_type") or meta.get("taf_type") or "other"


def compare_options(dialogues: list[dict], scores: list, folds: int = 5) -> dict:
    """Grouped cross-validated AUROC, log-loss and recall at 3% false alarms for each verdict option."""
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import GroupKFold

    feats = [final_features(s) for s in scores]
    y = np.array([int(d["label"] == "scam") for d in dialogues])
    groups = [group_of(d) for d in dialogues]
    folds = min(folds, len(set(groups)))
    if folds < 2 or y.min() == y.max():
        return {}
    report = {}
    for option, names in OPTIONS.items():
        x, oof = _matrix(feats, names), np.zeros(len(y))
        for train_idx, test_idx in GroupKFold(n_splits=folds).split(x, y, groups):
            bias, weights = fit_monotone_logistic(x[train_idx], y[train_idx])
            oof[test_idx] = 1 / (1 + np.exp(-(bias + x[test_idx] @ weights)))
        benign = np.sort(oof[y == 0])[::-1]
        cut = benign[int(np.floor(0.03 * len(benign)))] if len(benign) else 0.5
        report[option] = {"auroc": round(float(roc_auc_score(y, oof)), 4),
                          "log_loss": round(float(log_loss(y, np.clip(oof, 1e-6, 1 - 1e-6), labels=[0, 1])), 4),
                          "recall_at_3pct_fpr": round(float((oof[y == 1] > cut).mean()), 4)}
    return report


def fit_alert_threshold(decision: Decision, dialogues: list[dict], scores: list, max_false_alarms: float = 0.03,
                        floor: float = 0.5) -> float:
    """The lowest threshold (at least `floor`) at which at most that share of benign calls ever alert."""
    benign = [s for d, s in zip(dialogues, scores) if d["label"] != "scam"]
    for threshold in np.round(np.arange(floor, 0.991, 0.01), 2):
        trial = replace(decision, alert_threshold=float(threshold))
        alerts = sum(run_verdict(trial, s.tactics, s.risks)[0].is_scam for s in benign)
        if not benign or alerts / len(benign) <= max_false_alarms:
            return float(threshold)
    return 0.99


def fit_verdict(decision: Decision, dialogues: list[dict], scores: list, option: str | None = None) -> tuple[Decision, dict]:
    """Pick the verdict option by grouped cross-validation (or take the one given), refit it on all rows, set the
    alert threshold."""
    comparison = compare_options(dialogues, scores)
    if option is None:
        option = max(comparison, key=lambda o: (comparison[o]["recall_at_3pct_fpr"], comparison[o]["auroc"])) \
            if comparison else "tactics+context"  # too few kinds of call to compare: keep every feature
    elif option not in OPTIONS:
        raise ValueError(f"unknown verdict option {option!r}; choose one of {', '.join(OPTIONS)}")
    names = OPTIONS[option]
    y = np.array([int(d["label"] == "scam") for d in dialogues])
    bias, weights = fit_monotone_logistic(_matrix([final_features(s) for s in scores], names), y)
    fitted = replace(decision, verdict_bias=round(bias, 5),
                     verdict_weights={n: round(float(w), 5) for n, w in zip(names, weights) if w > 1e-6})
    fitted.alert_threshold = fit_alert_threshold(fitted, dialogues, scores)
    fitted.caution = round(min(0.3, fitted.alert_threshold / 2), 4)
    return fitted, {"options": comparison, "chosen": option, "alert_threshold": fitted.alert_threshold}
