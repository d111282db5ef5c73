"""Where the project's files are: the shipped model, prompts and task YAMLs (inside an installed wheel, or in the
checkout), and what set-up derives (outside the repository).

A wheel carries the shipped model folder, prompts/*.yaml and eval/tasks/*.yaml as package data under
`analyzer/_data/` (copied there by the build, see setup.py); they are found through importlib.resources first and in
the checkout second, so an editable install and a plain checkout keep using the repository's own folders.
"""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
PACKAGED_DATA = "_data"  # the package-data folder a wheel carries (mirrors the repository's layout)
DATASETS_DIR = REPO_DIR / "datasets"


def resource(relative: str) -> Path:
    """A shipped file or folder (path relative to the repository root, e.g. "prompts"): the copy packaged in the
    installed wheel when there is one, else the checkout's."""
    try:
        packaged = files("analyzer").joinpath(PACKAGED_DATA, *relative.split("/"))
        if packaged.is_dir() or packaged.is_file():
            return Path(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError, OSError):  # pragma: no cover - unusual installs
        pass
    return REPO_DIR / relative


DEFAULT_MODEL_DIR = resource("models/scam-tagger-zh")
PROMPTS_DIR = resource("prompts")
EVAL_TASKS_DIR = resource("eval/tasks")


def cache_dir() -> Path:
    """$SCAM_ANALYZER_CACHE, else ~/.cache/scam-analyzer."""
    root = os.environ.get("SCAM_ANALYZER_CACHE") or Path.home() / ".cache" / "scam-analyzer"
    return Path(root)
