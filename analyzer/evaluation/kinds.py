"""Task kinds: a registry mapping each kind to the metrics it computes and the function that computes them.

A kind function gets the task, the gold dialogues, one system's predictions (None where the system failed) and a
context (seed, the system itself for re-prediction, an optional group-by field). Metrics with an empty denominator
are None. Confidence intervals are percentile bootstraps over dialogues (scipy.stats.bootstrap).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from analyzer import metrics as M
from analyzer.corpus import gold_tactics

DIALOGUE_METRICS = ("precision", "recall", "f1", "accuracy", "fpr", "fpr_lookalike", "non_fraud_recall",
                    "balanced_accuracy", "predicted_fraud_ratio", "auroc", "auprc", "brier", "ece",
                    "scam_type_accuracy")
TURN_METRICS = ("micro_f1", "macro_f1", "micro_precision", "micro_recall", "per_tactic")
EARLY_METRICS = ("alert_before_harm_rate", "median_turns_to_alert", "within_three_turns_rate", "alerted_rate",
                 "erde5", "erde50", "latency_weighted_f1", "benign_alert_rate")
EXPLANATION_METRICS = ("cited_turn_validity", "verbatim_quote_rate", "step_tactic_precision", "step_tactic_recall",
                       "added_step_precision", "validity_rate", "first_answer_validity_rate", "fallback_rate",
                       "latency_ms_mean", "latency_ms_p50", "latency_ms_p95", "input_tokens_mean", "output_tokens_mean",
                       "verdict_consistency", "llm_verdict_consistency")


class TaskError(ValueError):
    """A task that cannot be loaded or run; the message names the file or task."""


@dataclass
class Context:
    seed: int = 0
    system: object = None
    system_name: str = ""
    group_by: Optional[str] = None


@dataclass
class Kind:
    metrics: tuple[str, ...]
    run: Callable


KINDS: dict[str, Kind] = {}


def register(name: str, metrics: tuple[str, ...]):
    def wrap(fn):
        KINDS[name] = Kind(metrics, fn)
        return fn
    return wrap


def bootstrap_ci(n: int, statistic: Callable[[np.ndarray], Optional[float]], reps: int, seed: int):
    """95% percentile interval of statistic(indices) over dialogues resampled with replacement."""
    if reps <= 0 or n < 2:
        return None
    from scipy.stats import bootstrap

    def stat(idx):
        value = statistic(np.asarray(idx, dtype=int))
        return np.nan if value is None else float(value)

    result = bootstrap((np.arange(n),), stat, n_resamples=reps, method="percentile", vectorized=False,
                       random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return None if np.isnan(low) else [float(low), float(high)]


def group_value(dialogue: dict, field: str) -> str:
    meta = dialogue.get("meta") or {}
    if field == "scam_type":
        return dialogue.get("scam_type") or "(benign)"
    if field == "benign_type":
        return meta.get("benign_type") or ("(scam)" if dialogue.get("label") == "scam" else "(none)")
    return str(dialogue.get(field) or meta.get(field) or "(none)")


def _labelled(gold, preds, need: str):
    """(dialogue, prediction) pairs with a gold label and a prediction; an error when the data has no labels at all
    (failed predictions only leave the metrics empty, n/a)."""
    if need and not any(d.get("label") for d in gold):
        raise TaskError(need)
    return [(d, p) for d, p in zip(gold, preds) if p is not None and d.get("label")]


def _dialogue_arrays(rows):
    y = np.array([int(d["label"] == "scam") for d, _ in rows])
    prob = np.array([p.scam_probability for _, p in rows])
    look = np.array([bool((d.get("meta") or {}).get("lookalike")) for d, _ in rows])
    decided = np.array([p.is_scam for _, p in rows])
    return y, prob, look, decided


def _scam_type_accuracy(rows) -> Optional[float]:
    from analyzer.taxonomy import SCAM_TYPES
    hits = [p.scam_type == d.get("scam_type") for d, p in rows
            if d.get("label") == "scam" and p.is_scam and d.get("scam_type") in SCAM_TYPES]
    return float(np.mean(hits)) if hits else None


def _counting_metric(name: str, y: np.ndarray, decided: np.ndarray) -> Optional[float]:
    """The count-based dialogue metrics, computed directly (the bootstrap calls this thousands of times)."""
    tp, fp = int((decided & (y == 1)).sum()), int((decided & (y == 0)).sum())
    fn, tn = int((~decided & (y == 1)).sum()), int((~decided & (y == 0)).sum())
    ratio = {"recall": (tp, tp + fn), "precision": (tp, tp + fp), "f1": (2 * tp, 2 * tp + fp + fn),
             "fpr": (fp, fp + tn), "accuracy": (tp + tn, len(y))}[name]
    return ratio[0] / ratio[1] if ratio[1] else None


def dialogue_statistic(name: str, rows: list, idx: np.ndarray) -> Optional[float]:
    """One dialogue metric over the rows `idx` (fast for the counting metrics)."""
    y, prob, look, decided = _dialogue_arrays([rows[i] for i in idx])
    if name in ("recall", "precision", "f1", "fpr", "accuracy"):
        return _counting_metric(name, y, decided.astype(bool))
    return _dialogue_scores([rows[i] for i in idx]).get(name)


def _dialogue_scores(rows) -> dict:
    y, prob, look, decided = _dialogue_arrays(rows)
    out = M.dialogue_metrics(y, prob, lookalike=look, decisions=decided)
    out["scam_type_accuracy"] = _scam_type_accuracy(rows)
    return out


@register("dialogue", DIALOGUE_METRICS)
def dialogue_task(task, gold, preds, ctx: Context) -> dict:
    rows = _labelled(gold, preds, f"task {task.task}: the data has no dialogue labels ('label': scam/benign)")
    result = _dialogue_scores(rows)
    y, prob, _, _ = _dialogue_arrays(rows)
    result["reliability"] = M.reliability(y, prob)
    result["ci95"] = {name: bootstrap_ci(len(rows), lambda idx, name=name: dialogue_statistic(name, rows, idx),
                                         task.bootstrap, ctx.seed) for name in task.headline}
    if ctx.group_by:
        result["groups"] = {}
        for value in sorted({group_value(d, ctx.group_by) for d, _ in rows}):
            sub = [r for r in rows if group_value(r[0], ctx.group_by) == value]
            scores = _dialogue_scores(sub)
            result["groups"][value] = {
                "n": len(sub), "recall": scores["recall"], "fpr": scores["fpr"], "f1": scores["f1"],
                "ci95": {k: bootstrap_ci(len(sub), lambda idx, k=k, sub=sub: dialogue_statistic(k, sub, idx),
                                         min(task.bootstrap, 500), ctx.seed) for k in ("recall", "fpr")}}
    return result


@register("turn", TURN_METRICS)
def turn_task(task, gold, preds, ctx: Context) -> dict:
    pairs = [(d, p) for d, p in zip(gold, preds) if p is not None and any(t.get("tactics") is not None for t in d["turns"])]
    if not pairs:
        raise TaskError(f"task {task.task}: the data has no gold turn tactics")
    per_dialogue = [(gold_tactics(d), [t.predicted for t in p.turns]) for d, p in pairs]

    def scores(idx):
        return M.turn_metrics([g for i in idx for g in per_dialogue[i][0]], [q for i in idx for q in per_dialogue[i][1]])
    result = scores(range(len(per_dialogue)))
    result["ci95"] = {name: bootstrap_ci(len(per_dialogue), lambda idx, name=name: scores(idx)[name], task.bootstrap,
                                         ctx.seed) for name in task.headline}
    return result


def _early_scores(rows) -> dict:
    scams = [(d, p) for d, p in rows if d["label"] == "scam"]
    out = M.early_warning([p.alert_turn for _, p in scams], [gold_tactics(d) for d, _ in scams])
    alerts, labels = [p.alert_turn for _, p in rows], [int(d["label"] == "scam") for d, _ in rows]
    out["erde5"], out["erde50"] = M.erde(alerts, labels, 5), M.erde(alerts, labels, 50)
    out["latency_weighted_f1"] = M.latency_weighted_f1(alerts, labels)
    benign = [p for d, p in rows if d["label"] != "scam"]
    out["benign_alert_rate"] = float(np.mean([p.alert_turn is not None for p in benign])) if benign else None
    return out


@register("early", EARLY_METRICS)
def early_task(task, gold, preds, ctx: Context) -> dict:
    rows = _labelled(gold, preds, f"task {task.task}: the data has no dialogue labels ('label': scam/benign)")
    result = _early_scores(rows)
    result["ci95"] = {name: bootstrap_ci(len(rows), lambda idx, name=name: _early_scores([rows[i] for i in idx])[name],
                                         task.bootstrap, ctx.seed) for name in task.headline}
    scams = [p for d, p in rows if d["label"] == "scam"]
    longest = max((len(p.turns) for p in scams), default=0)
    result["alerted_by_turn"] = [float(np.mean([p.alert_turn is not None and p.alert_turn <= k for p in scams]))
                                 for k in range(min(longest, 40))] if scams else []
    return result


@register("robustness", ("f1", "recall", "fpr"))
def robustness_task(task, gold, preds, ctx: Context) -> dict:
    from analyzer.evaluation.perturb import perturb
    from analyzer.evaluation.predict import predict_all

    clean = _dialogue_scores(_labelled(gold, preds, f"task {task.task}: the data has no dialogue labels"))
    result = {"clean_" + task.metric: clean[task.metric], "perturbations": {}}
    for perturbation in task.perturbations:
        changed = perturb(gold, perturbation, ctx.seed)
        value = _dialogue_scores(_labelled(changed, predict_all(ctx.system, changed, f"{ctx.system_name}:{perturbation}"),
                                           ""))[task.metric]
        drop = None if value is None or clean[task.metric] is None else clean[task.metric] - value
        result["perturbations"][perturbation] = {task.metric: value, "drop": drop}
    return result


@register("explanation", EXPLANATION_METRICS)
def explanation_task(task, gold, preds, ctx: Context) -> dict:
    """Explanations of the backend named by $SCAM_ANALYZER_LLM (default none): grounding against the gold tactics,
    and for an LLM validity, fallbacks, latency, tokens; repeat-run verdict consistency (see analyzer.chain.evaluate)."""
    from analyzer.chain.evaluate import explanation_metrics
    return explanation_metrics(gold, preds, seed=ctx.seed)
