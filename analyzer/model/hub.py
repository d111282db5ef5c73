"""Hugging Face conventions for a model folder: it loads with transformers alone, without this package.

    from transformers import AutoModel, AutoTokenizer
    model = AutoModel.from_pretrained(FOLDER, trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(FOLDER, trust_remote_code=True)  # (it reads the config too)

`write_hub_files(folder)` (called by the release step) writes FOLDER/modeling_scam_tagger.py, a self-contained copy of
analyzer/model/modeling.py (the config and model classes; the taxonomy ids it imports become literals; the
registration with the Auto classes is left out, since `auto_map` does that job), and adds `auto_map` to config.json.
The copy is generated from the module's source every release, so the two cannot drift apart. Only the standard
library is used here.
"""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

MODELING_FILE = "modeling_scam_tagger.py"
AUTO_MAP = {"AutoConfig": "modeling_scam_tagger.ScamTaggerConfig", "AutoModel": "modeling_scam_tagger.ScamTaggerModel"}
SOURCE_MODULE = "analyzer.model.modeling"
HEADER = ('# Generated from {module} by analyzer.model.hub.write_hub_files; do not edit (rerun the release step).\n'
          '# Self-contained: needs torch and transformers only. Load with\n'
          '#     transformers.AutoModel.from_pretrained(FOLDER, trust_remote_code=True)\n')


def modeling_source() -> str:
    """The source of a self-contained modeling file, derived from analyzer/model/modeling.py."""
    spec = importlib.util.find_spec(SOURCE_MODULE)
    source = Path(spec.origin).read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (first line, last line, replacement), 1-based and inclusive
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "analyzer":
            module = importlib.import_module(node.module)
            text = "".join(f"{alias.asname or alias.name} = {_literal(getattr(module, alias.name))}\n"
                           for alias in node.names)
            edits.append((node.lineno, node.end_lineno, text))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "analyzer" for a in node.names):
            raise ValueError(f"{spec.origin}:{node.lineno}: cannot inline `import analyzer...` into {MODELING_FILE}")
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "register"):
            edits.append((node.lineno, node.end_lineno, ""))  # AutoConfig/AutoModel.register: auto_map does it
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1:last] = [text]
    out = HEADER.format(module=SOURCE_MODULE) + "".join(lines).rstrip() + "\n"
    _check_self_contained(out)
    return out


def write_hub_files(folder: str | Path) -> Path:
    """Write the modeling file into `folder` and point config.json's auto_map at it; returns the file's path."""
    folder = Path(folder)
    target = folder / MODELING_FILE
    target.write_text(modeling_source(), encoding="utf-8")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["auto_map"] = dict(AUTO_MAP)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def _literal(value) -> str:
    """A Python literal for an imported constant (a dict becomes the tuple of its keys, as the classes use it)."""
    if isinstance(value, dict):
        value = tuple(value)
    if isinstance(value, list):
        value = tuple(value)
    text = repr(value)
    if ast.literal_eval(text) != value:
        raise ValueError(f"cannot write {value!r} as a literal into {MODELING_FILE}")
    return text


def _check_self_contained(source: str) -> None:
    for node in ast.walk(ast.parse(source)):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n.split(".")[0] == "analyzer" for n in names):
            raise ValueError(f"{MODELING_FILE} would still import {names}")
