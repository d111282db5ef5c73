"""Benchmark tasks declared as YAML in eval/tasks/ (in the spirit of lm-evaluation-harness)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analyzer.paths import REPO_DIR

TASK_DIR = REPO_DIR / "eval" / "tasks"
KINDS = ("dialogue", "turn", "early", "robustness", "explanation")


@dataclass
class Task:
    task: str
    kind: str
    description: str = ""
    data: str = "test"
    metrics: list = field(default_factory=list)
    headline: list = field(default_factory=list)
    bootstrap: int = 0
    perturbations: list = field(default_factory=list)
    metric: str = "f1"
    requires: str = ""
    version: int = 1
    config_sha256: str = ""


def load_tasks(names: list[str] | None = None, folder: Path = TASK_DIR) -> list[Task]:
    tasks = []
    for path in sorted(folder.glob("*.yaml")):
        raw = path.read_bytes()
        spec = yaml.safe_load(raw)
        if spec.get("kind") not in KINDS:
            raise ValueError(f"{path}: kind must be one of {', '.join(KINDS)}")
        task = Task(**spec, config_sha256=hashlib.sha256(raw).hexdigest())
        if not names or task.task in names:
            tasks.append(task)
    missing = set(names or []) - {t.task for t in tasks}
    if missing:
        raise ValueError(f"unknown task(s): {', '.join(sorted(missing))}; see {folder}")
    return tasks
