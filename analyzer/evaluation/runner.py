"""Run the benchmark: systems (model and baselines) x tasks on one data set; metrics with bootstrap intervals."""
from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np

from analyzer import __version__
from analyzer.api import Analyzer
from analyzer.corpus import SPLITS, load_split, resolve_data, split_path, SILVER_FILE
from analyzer.evaluation import metrics as M
from analyzer.evaluation.perturb import perturb
from analyzer.evaluation.tasks import Task, load_tasks
from analyzer.paths import REPO_DIR
from analyzer.schema import Dialogue

BASELINES = ("keyword", "tfidf")  # plus "llm" when an LLM is configured


def dataset_info(name: str, dialogues: list[dict]) -> dict:
    key = name.removeprefix("gold:")
    path = split_path(key) if key in SPLITS else SILVER_FILE if key == "silver" else Path(name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return {"name": name, "path": str(path), "sha256": digest, "dialogues": len(dialogues)}


def code_version() -> dict:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_DIR,
                                    capture_output=True, text=True).stdout.strip())
    except FileNotFoundError:
        sha, dirty = "", False
    return {"package": __version__, "git": sha or None, "dirty": dirty}


def build_systems(model: Optional[str], baselines: list[str], seed: int) -> dict[str, Analyzer]:
    systems = {}
    if model != "none":
        systems["model"] = Analyzer.from_pretrained(None if model in (None, "default") else model)
    for name in baselines:
        if name == "keyword":
            systems["keyword"] = Analyzer.from_pretrained("rules")
        elif name == "tfidf":
            from analyzer.evaluation.tfidf import TfidfBackend
            systems["tfidf"] = Analyzer(TfidfBackend(seed=seed).fit(load_split("train"), load_split("dev")))
        elif name == "llm":
            from analyzer.evaluation.llm_baseline import LLMBackend
            systems["llm"] = Analyzer(LLMBackend())
        else:
            raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)} or llm")
    return systems


def predict_all(system: Analyzer, dialogues: list[dict], desc: str, batch_size: int = 16):
    """Predictions in input order; a dialogue that cannot be predicted is None and counted, never benign."""
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(dialogues), desc=desc, unit="dialogue", file=sys.stderr, disable=None, leave=False) as bar:
        for i in range(0, len(dialogues), batch_size):
            batch = [Dialogue.model_validate(d) for d in dialogues[i:i + batch_size]]
            try:
                out += system.analyze_many(batch, batch_size=batch_size)
            except Exception:  # fall back to one at a time so one bad dialogue costs only itself
                for d in batch:
                    try:
                        out.append(system.analyze(d))
                    except Exception:
                        out.append(None)
            bar.update(len(batch))
    return out


def _bootstrap(n: int, fn, reps: int, seed: int) -> Optional[list[float]]:
    if reps <= 0 or n == 0:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        value = fn(rng.integers(0, n, n))
        if value is not None:
            values.append(value)
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else None


def dialogue_task(task: Task, gold: list[dict], preds: list, seed: int) -> dict:
    rows = [(d, p) for d, p in zip(gold, preds) if p is not None and d.get("label")]
    y = np.array([int(d["label"] == "scam") for d, _ in rows])
    prob = np.array([p.scam_probability for _, p in rows])
    look = np.array([bool((d.get("meta") or {}).get("lookalike")) for d, _ in rows])
    decided = np.array([p.is_scam for _, p in rows])  # each system's own calibrated decision
    result = M.dialogue_metrics(y, prob, lookalike=look, decisions=decided)
    result["reliability"] = M.reliability(y, prob)
    result["ci95"] = {name: _bootstrap(len(y), lambda idx, name=name: _safe(
        M.dialogue_metrics(y[idx], prob[idx], lookalike=look[idx], decisions=decided[idx]).get(name)),
        task.bootstrap, seed) for name in task.headline}
    return result


def _safe(value):
    return None if value is None else float(value)


def turn_task(task: Task, gold: list[dict], preds: list, seed: int) -> dict:
    dialogues = [(d, p) for d, p in zip(gold, preds)
                 if p is not None and any(t.get("tactics") is not None for t in d["turns"])]
    per_dialogue = [([t.get("tactics") or [] for t in d["turns"]], [t.predicted for t in p.turns]) for d, p in dialogues]
    flat_gold = [g for gs, _ in per_dialogue for g in gs]
    flat_pred = [q for _, qs in per_dialogue for q in qs]
    result = M.turn_metrics(flat_gold, flat_pred)

    def metric(idx, name):
        g = [x for i in idx for x in per_dialogue[i][0]]
        q = [x for i in idx for x in per_dialogue[i][1]]
        return M.turn_metrics(g, q)[name]
    result["ci95"] = {name: _bootstrap(len(per_dialogue), lambda idx, name=name: metric(idx, name), task.bootstrap,
                                       seed) for name in task.headline}
    return result


def early_task(task: Task, gold: list[dict], preds: list, seed: int) -> dict:
    rows = [(d, p) for d, p in zip(gold, preds) if p is not None and d.get("label") == "scam"]
    alerts = [p.alert_turn for _, p in rows]
    tactics = [[t.get("tactics") or [] for t in d["turns"]] for d, _ in rows]
    result = M.early_warning(alerts, tactics)
    result["ci95"] = {name: _bootstrap(len(rows), lambda idx, name=name: _safe(
        M.early_warning([alerts[i] for i in idx], [tactics[i] for i in idx])[name]), task.bootstrap, seed)
        for name in task.headline}
    benign = [p for d, p in zip(gold, preds) if p is not None and d.get("label") == "benign"]
    result["benign_alert_rate"] = (sum(p.alert_turn is not None for p in benign) / len(benign)) if benign else None
    return result


def robustness_task(task: Task, gold: list[dict], system: Analyzer, clean: dict, seed: int, name: str) -> dict:
    result = {"clean_" + task.metric: clean[task.metric], "perturbations": {}}
    for perturbation in task.perturbations:
        changed = perturb(gold, perturbation, seed)
        preds = predict_all(system, changed, f"{name}:{perturbation}")
        value = dialogue_task(Task(task="tmp", kind="dialogue"), changed, preds, seed)[task.metric]
        result["perturbations"][perturbation] = {task.metric: value, "drop": clean[task.metric] - value}
    return result


def explanation_task(task: Task, gold: list[dict], preds: list, seed: int) -> dict:
    try:
        from analyzer.chain.evaluate import explanation_metrics  # added by the explanation chain
    except ModuleNotFoundError:
        return {"skipped": f"needs {task.requires}, which is not installed in this version"}
    return explanation_metrics(gold, preds)


def flat_keys(result: dict) -> dict:
    """The stable keys of metrics.json (dialogue.f1, turn.per_tactic.<id>.f1, early.median_turns_to_alert, ...)."""
    out = {}
    d = result.get("dialogue_detection", {})
    for k in ("f1", "precision", "recall", "accuracy", "fpr", "fpr_lookalike", "auroc", "auprc", "brier", "ece"):
        if k in d:
            out[f"dialogue.{k}"] = d[k]
    t = result.get("turn_tagging", {})
    for k in ("micro_f1", "macro_f1"):
        if k in t:
            out[f"turn.{k}"] = t[k]
    for tactic, v in (t.get("per_tactic") or {}).items():
        out[f"turn.per_tactic.{tactic}.f1"] = v["f1"]
    e = result.get("early_warning", {})
    for k in ("alert_before_harm_rate", "median_turns_to_alert", "within_three_turns_rate", "alerted_rate"):
        if k in e:
            out[f"early.{k}"] = e[k]
    x = result.get("explanation_faithfulness", {})
    for k in ("cited_turn_validity", "verbatim_quote_rate", "step_tactic_precision", "step_tactic_recall"):
        if x.get(k) is not None:
            out[f"explanation.{k}"] = x[k]
    for p, v in (result.get("robustness", {}).get("perturbations") or {}).items():
        out[f"robustness.{p}.f1_drop"] = v["drop"]
    return out


def run(data: str = "test", model: Optional[str] = "default", baselines: tuple = BASELINES,
        task_names: Optional[list[str]] = None, limit: int = 0, seed: int = 0, sample: int = 0) -> dict:
    """limit: the first N dialogues; sample: a seeded random N (for large sets such as silver)."""
    random.seed(seed)
    gold = resolve_data(data)
    if limit:
        gold = gold[:limit]
    if sample and sample < len(gold):
        gold = random.Random(seed).sample(gold, sample)
    tasks = load_tasks(task_names)
    systems = build_systems(model, list(baselines), seed)
    report = {"config": {"data": data, "model": model, "baselines": list(baselines), "limit": limit, "sample": sample,
                         "seed": seed,
                         "tasks": [asdict(t) for t in tasks]},
              "dataset": dataset_info(data, gold), "code_version": code_version(), "systems": {}}
    for name, system in systems.items():
        preds = predict_all(system, gold, name)
        result = {"model_id": system.name, "n_failed": sum(p is None for p in preds)}
        for task in tasks:
            if task.kind == "dialogue":
                result[task.task] = dialogue_task(task, gold, preds, seed)
            elif task.kind == "turn":
                result[task.task] = turn_task(task, gold, preds, seed)
            elif task.kind == "early":
                result[task.task] = early_task(task, gold, preds, seed)
            elif task.kind == "explanation":
                result[task.task] = explanation_task(task, gold, preds, seed)
        for task in tasks:
            if task.kind == "robustness":
                clean = result.get("dialogue_detection") or dialogue_task(Task("tmp", "dialogue"), gold, preds, seed)
                result[task.task] = robustness_task(task, gold, system, clean, seed, name)
        result["keys"] = flat_keys(result)
        report["systems"][name] = result
    primary = "model" if "model" in report["systems"] else next(iter(report["systems"]), None)
    if primary:
        report.update(report["systems"][primary]["keys"])
        report["primary_system"] = primary
    return report


def run_cross_corpus(model: Optional[str] = "default", sample: int = 2000, seed: int = 0) -> dict:
    """Train on one corpus, test on the other, both ways: gold -> TeleAntiFraud silver and silver -> gold test.

    The tagger (trained on gold only) and a TF-IDF model trained on gold are tested on a seeded silver sample; a
    TF-IDF model trained on the rest of the silver set (dialogue labels only) is tested on the gold test split.
    """
    from analyzer.evaluation.tfidf import TfidfBackend

    rng = random.Random(seed)
    silver = load_split("silver")
    rng.shuffle(silver)
    silver_test, silver_train = silver[:sample], silver[sample:sample + max(sample, 3000)]
    gold_test = load_split("test")
    task = Task(task="dialogue_detection", kind="dialogue", headline=["f1"], bootstrap=200)
    directions = {"gold->silver": {}, "silver->gold": {}}
    gold_systems = {"tfidf": Analyzer(TfidfBackend(seed=seed).fit(load_split("train"), load_split("dev")))}
    if model != "none":
        gold_systems = {"model": Analyzer.from_pretrained(None if model in (None, "default") else model), **gold_systems}
    for name, system in gold_systems.items():
        directions["gold->silver"][name] = dialogue_task(task, silver_test, predict_all(system, silver_test, name), seed)
    silver_system = Analyzer(TfidfBackend(seed=seed).fit(silver_train))
    directions["silver->gold"]["tfidf"] = dialogue_task(task, gold_test, predict_all(silver_system, gold_test, "tfidf"),
                                                        seed)
    return {"config": {"model": model, "sample": sample, "silver_train": len(silver_train), "seed": seed},
            "dataset": {"silver": dataset_info("silver", silver), "test": dataset_info("test", gold_test)},
            "code_version": code_version(), "directions": directions}
