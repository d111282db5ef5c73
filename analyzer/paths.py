"""Where the project keeps what set-up derives (outside the repository)."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_MODEL_DIR = REPO_DIR / "models" / "scam-tagger-zh"
DATASETS_DIR = REPO_DIR / "datasets"


def cache_dir() -> Path:
    """$SCAM_ANALYZER_CACHE, else ~/.cache/scam-analyzer."""
    root = os.environ.get("SCAM_ANALYZER_CACHE") or Path.home() / ".cache" / "scam-analyzer"
    return Path(root)
