"""Systems to benchmark, as plug-ins: `--system NAME=SPEC`.

SPEC is a model folder (or `default`), `rules`/`keyword`, `tfidf`, `llm:openai:MODEL` / `llm:ollama:MODEL` /
`llm:hf:PATH` (an LLM classifying alone), or `python:module:factory` where factory() returns a Backend (or an
Analyzer). Whatever it is, every system answers through the Analyzer facade and the one verdict rule.
"""
from __future__ import annotations

import hashlib
import importlib
from functools import lru_cache
from pathlib import Path

from analyzer.api import Analyzer

DEFAULT_SYSTEMS = ("model=default", "keyword=rules", "tfidf=tfidf")


class SystemSpecError(ValueError):
    """A --system spec that cannot be parsed or loaded; the message names the spec."""


def parse_system(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep:
        name, spec = text, text
    if not name.strip() or not spec.strip():
        raise SystemSpecError(f"--system {text!r}: expected NAME=SPEC")
    return name.strip(), spec.strip()


def load_system(name: str, spec: str, seed: int = 0) -> Analyzer:
    try:
        if spec in ("rules", "keyword"):
            return Analyzer.from_pretrained("rules")
        if spec == "tfidf":
            return Analyzer(fitted_tfidf(seed))
        if spec.startswith("llm:"):
            from analyzer.evaluation.llm_baseline import LLMBackend
            return Analyzer(LLMBackend(spec.removeprefix("llm:")))
        if spec.startswith("python:"):
            _, module, factory = spec.split(":", 2)
            made = getattr(importlib.import_module(module), factory)()
            return made if isinstance(made, Analyzer) else Analyzer(made)
        runtime = "auto"
        if spec.endswith(("@onnx", "@torch", "@auto")):
            spec, runtime = spec.rsplit("@", 1)
        return Analyzer.from_pretrained(spec, runtime=runtime)
    except SystemSpecError:
        raise
    except Exception as err:  # a spec that cannot load: one line naming it
        raise SystemSpecError(f"--system {name}={spec}: cannot load ({type(err).__name__}: {str(err)[:200]})") from None


@lru_cache(maxsize=2)
def fitted_tfidf(seed: int = 0):
    """The char TF-IDF baseline fitted on the gold train split (thresholds on dev), once per process."""
    from analyzer.corpus import load_split
    from analyzer.evaluation.tfidf import TfidfBackend
    return TfidfBackend(seed=seed).fit(load_split("train"), load_split("dev"))


def weights_sha256(system: Analyzer) -> str | None:
    """A hash of a model folder's weight files (so every retrain has its own id); None for systems without one."""
    folder = getattr(system.backend, "folder", None)
    if folder is None:
        return None
    digest = hashlib.sha256()
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".safetensors", ".onnx", ".bin"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest() if files else None
