"""Run the benchmark: systems x tasks x data; metrics with bootstrap intervals, environment and hashes recorded."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import subprocess
import sys
from dataclasses import asdict
from typing import Optional

from analyzer import __version__
from analyzer.corpus import resolve_data
from analyzer.evaluation.kinds import KINDS, Context
from analyzer.evaluation.predict import predict_all
from analyzer.evaluation.systems import DEFAULT_SYSTEMS, load_system, parse_system, weights_sha256
from analyzer.evaluation.tasks import Task, load_tasks
from analyzer.paths import REPO_DIR

GROUP_FIELDS = ("scam_type", "source", "benign_type", "register")


def rows_sha256(dialogues: list[dict]) -> str:
    """The hash of the rows actually used (canonical JSON lines), not of the whole file."""
    digest = hashlib.sha256()
    for d in dialogues:
        digest.update((json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    return digest.hexdigest()


def code_version() -> dict:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_DIR,
                                    capture_output=True, text=True).stdout.strip())
    except FileNotFoundError:
        sha, dirty = "", False
    return {"package": __version__, "git": sha or None, "dirty": dirty}


def environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def ver(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None
    threads = None
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": threads, **{p: ver(p) for p in ("torch", "transformers", "onnxruntime", "scikit-learn")}}


def load_data(name: str, limit: int = 0, sample: int = 0, seed: int = 0) -> list[dict]:
    gold = resolve_data(name)
    if limit:
        gold = gold[:limit]
    if sample and sample < len(gold):
        gold = random.Random(seed).sample(gold, sample)
    return gold


def run(data: Optional[str] = None, systems: Optional[list[str]] = None, task_names: Optional[list[str]] = None,
        include: tuple = (), limit: int = 0, seed: int = 0, sample: int = 0, group_by: Optional[str] = None,
        log_samples: bool = False) -> dict:
    """data: one named split or file for every task (None: each task's own `data`); systems: NAME=SPEC strings."""
    tasks = load_tasks(task_names, include)
    specs = [parse_system(s) for s in (systems or DEFAULT_SYSTEMS)]
    if group_by and group_by not in GROUP_FIELDS:
        raise ValueError(f"--group-by must be one of {', '.join(GROUP_FIELDS)}")
    datasets: dict[str, list[dict]] = {}
    for task in tasks:
        name = data or task.data
        if name not in datasets:
            datasets[name] = load_data(name, limit, sample, seed)
    report = {"config": {"data": data, "systems": [f"{n}={s}" for n, s in specs], "limit": limit, "sample": sample,
                         "seed": seed, "group_by": group_by, "tasks": [asdict(t) for t in tasks]},
              "datasets": {n: {"name": n, "dialogues": len(rows), "sha256": rows_sha256(rows)} for n, rows in datasets.items()},
              "code_version": code_version(), "systems": {}, "failed_systems": []}
    samples = []
    for name, spec in specs:
        system = load_system(name, spec, seed)
        predictions = {n: predict_all(system, rows, f"{name}:{n}") for n, rows in datasets.items()}
        failed = {n: sum(p is None for p in preds) for n, preds in predictions.items()}
        result = {"model_id": system.name, "spec": spec, "model_sha256": weights_sha256(system), "n_failed": failed}
        if all(failed[n] == len(datasets[n]) for n in datasets if datasets[n]):
            report["failed_systems"].append(name)
        ctx = Context(seed=seed, system=system, system_name=name, group_by=group_by)
        for task in tasks:
            rows = data or task.data
            result[task.task] = KINDS[task.kind].run(task, datasets[rows], predictions[rows], ctx)
            result[task.task]["data"] = rows
        result["keys"] = flat_keys(result, tasks)
        report["systems"][name] = result
        if log_samples:
            for n, preds in predictions.items():
                samples += [{"system": name, "data": n, "id": d["id"], "label": d.get("label"),
                             "prediction": None if p is None else p.to_dict()} for d, p in zip(datasets[n], preds)]
    report["environment"] = environment()
    primary = next(iter(report["systems"]), None)
    if primary:
        report["primary_system"] = primary
        report.update(report["systems"][primary]["keys"])
    if log_samples:
        report["samples"] = samples
    return report


def flat_keys(result: dict, tasks: list[Task]) -> dict:
    """`<prefix>.<metric>` for each task's selected metrics (all of its kind's when none are listed); built-in tasks
    keep their historical prefixes (dialogue., turn., early.)."""
    out = {}
    for task in tasks:
        r = result.get(task.task) or {}
        if task.kind == "robustness":
            for p, v in (r.get("perturbations") or {}).items():
                out[f"robustness.{p}.{task.metric}_drop"] = v["drop"]
            continue
        for metric in task.metrics or KINDS[task.kind].metrics:
            if metric == "per_tactic":
                for tactic, v in (r.get("per_tactic") or {}).items():
                    out[f"{task.key_prefix}.per_tactic.{tactic}.f1"] = v["f1"]
            elif metric in r:
                out[f"{task.key_prefix}.{metric}"] = r[metric]
    return out
