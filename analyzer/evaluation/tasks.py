"""Benchmark tasks declared as YAML (in the spirit of lm-evaluation-harness): the built-in ones in eval/tasks/,
more from any folder given with --include-path, or a YAML file named directly. Every field is honoured; an unknown
field, kind or metric is an error that names the file.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from analyzer.evaluation.kinds import KINDS, TaskError
from analyzer.paths import EVAL_TASKS_DIR

TASK_DIR = EVAL_TASKS_DIR  # the checkout's eval/tasks, or the copy an installed wheel carries
BUILTIN_PREFIX = {"dialogue_detection": "dialogue", "turn_tagging": "turn", "early_warning": "early",
                  "explanation_faithfulness": "explanation"}


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
    path: str = ""

    @property
    def key_prefix(self) -> str:
        """Built-in tasks keep their historical keys (dialogue.f1, ...); others use their task name."""
        return BUILTIN_PREFIX.get(self.task, self.task)


def load_task_file(path: Path) -> Task:
    raw = path.read_bytes()
    try:
        spec = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise TaskError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise TaskError(f"{path}: a task file is a YAML mapping")
    allowed = {f.name for f in fields(Task)} - {"config_sha256", "path"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise TaskError(f"{path}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    if "task" not in spec or "kind" not in spec:
        raise TaskError(f"{path}: 'task' and 'kind' are required")
    if spec["kind"] not in KINDS:
        raise TaskError(f"{path}: unknown kind {spec['kind']!r}; known: {', '.join(KINDS)}")
    task = Task(**spec, config_sha256=hashlib.sha256(raw).hexdigest(), path=str(path))
    known = KINDS[task.kind].metrics
    bad = [m for m in list(task.metrics) + list(task.headline) if m not in known]
    if bad:
        raise TaskError(f"{path}: kind {task.kind!r} has no metric(s) {', '.join(bad)}; it has: {', '.join(known)}")
    return task


def available_tasks(include: list[str | Path] = ()) -> dict[str, Task]:
    folders = [TASK_DIR] + [Path(p) for p in include]
    found: dict[str, Task] = {}
    for folder in folders:
        if not folder.is_dir():
            raise TaskError(f"--include-path {folder}: not a folder")
        for path in sorted(folder.glob("*.yaml")):
            task = load_task_file(path)
            found[task.task] = task
    return found


def load_tasks(selectors: list[str] | None = None, include: list[str | Path] = ()) -> list[Task]:
    """Tasks by name (built-in or from an include folder) or by YAML path; all known tasks when none are named."""
    pool = available_tasks(include)
    if not selectors:
        return list(pool.values())
    tasks = []
    for selector in selectors:
        if selector.endswith((".yaml", ".yml")):
            path = Path(selector)
            if not path.exists():
                raise TaskError(f"task file {path} does not exist")
            tasks.append(load_task_file(path))
        elif selector in pool:
            tasks.append(pool[selector])
        else:
            raise TaskError(f"unknown task {selector!r}; known: {', '.join(pool)} (add folders with --include-path)")
    return tasks
