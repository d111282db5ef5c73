"""The build step that puts the shipped files into the wheel (everything else is declared in pyproject.toml).

A wheel carries, as package data under analyzer/_data/ (the repository's layout, found at run time through
importlib.resources by analyzer.paths.resource):
- models/scam-tagger-zh/  the shipped model: config, tokenizer, lexical channel, weights (for the torch runtime),
                          the HF modeling file, and onnx/ with the step graph and the encoder at the precision the
                          export chose (int8 normally; the other precision stays out of the wheel);
- prompts/*.yaml and eval/tasks/*.yaml.
The repository keeps one copy of each (nothing is moved); an editable install reads the checkout's folders.
SCAM_ANALYZER_WHEEL_MODEL=FOLDER takes the model folder from elsewhere (e.g. a freshly exported copy).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODEL = "models/scam-tagger-zh"
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "lexical.safetensors", "lexical_vocab.json", "model.safetensors", "training_args.json",
               "eval_results.json", "README.md", "modeling_scam_tagger.py")
ENCODERS = {"int8": "encoder.int8.onnx", "fp32": "encoder.onnx"}


def shipped_files() -> list[tuple[Path, str]]:
    """(source, path under analyzer/_data) for every shipped file."""
    model = Path(os.environ.get("SCAM_ANALYZER_WHEEL_MODEL") or ROOT / MODEL)
    if not (model / "config.json").exists():
        raise SystemExit(f"setup.py: {model} has no config.json; the wheel must carry the shipped model")
    pairs = [(model / name, f"{MODEL}/{name}") for name in MODEL_FILES if (model / name).exists()]
    onnx = model / "onnx"
    if (onnx / "step.onnx").exists():
        try:
            precision = json.loads((onnx / "export.json").read_text()).get("default_precision", "int8")
        except (OSError, ValueError):
            precision = "int8"
        encoder = next((ENCODERS[p] for p in (precision, "int8", "fp32") if p in ENCODERS
                        and (onnx / ENCODERS[p]).exists()), None)
        for name in ("step.onnx", "export.json", encoder):
            if name and (onnx / name).exists():
                pairs.append((onnx / name, f"{MODEL}/onnx/{name}"))
    else:
        print(f"setup.py: warning: {model} has no ONNX export (onnx/step.onnx); a wheel built now runs the shipped "
              "model only with the torch extra. Run `python -m analyzer release` (or analyzer.model.onnx_export) "
              "first.", file=sys.stderr)
    for folder in ("prompts", "eval/tasks"):
        pairs += [(path, f"{folder}/{path.name}") for path in sorted((ROOT / folder).glob("*.yaml"))]
    return pairs


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own folders
        target = Path(self.build_lib) / "analyzer" / "_data"
        if target.exists():
            shutil.rmtree(target)
        for source, relative in shipped_files():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildWithShippedFiles})
