"""The release step for a trained model folder (`python -m analyzer release FOLDER`): calibrate the saved weights
on the selection set again, export ONNX, write the model card. Top floor: it may use training and evaluation.
"""
from __future__ import annotations

import json
from pathlib import Path

from analyzer.corpus import load_split
from analyzer.training.folds import split_selection_fold


def selection_set(meta: dict) -> list[dict]:
    """Dev plus the held-out fold the folder was trained without (as recorded in its training_args.json)."""
    dev = load_split("dev")
    if not meta.get("selection_fold"):
        return dev
    fold = meta["selection_fold"]
    _, held_out = split_selection_fold(load_split("train"), scam_types=tuple(fold["scam_types"]),
                                       benign_types=tuple(fold["benign_types"]))
    return dev + held_out


def recalibrate(folder: str | Path, verdict: str | None = None) -> dict:
    """Fit thresholds, temperature and verdict for the saved (fp16) weights; update config.json through
    `save_pretrained`'s own config writer."""
    from analyzer.model.inference import NeuralBackend
    from analyzer.training.calibration import calibrate, score_dialogues

    folder = Path(folder)
    meta_path = folder / "training_args.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    backend = NeuralBackend.from_pretrained(folder)
    backend.model.config.risk_temperature = 1.0
    selection = selection_set(meta)
    decision, temperature, report = calibrate(selection, score_dialogues(backend, selection), verdict=verdict)
    config = backend.model.config
    config.risk_temperature, config.decision = temperature, decision.to_dict()
    config.save_pretrained(folder)
    meta["calibration"] = report
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    return report


def ablation_copy(folder: str | Path, out: str | Path, lexical: bool = True) -> Path:
    """A copy of a model folder for an ablation; without `lexical`, the lexical channel is removed (its weight set to
    0 through the config's own writer)."""
    import shutil

    from transformers import AutoConfig

    import analyzer.model.modeling  # noqa: F401  (registers the config class)

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(folder, out, ignore=shutil.ignore_patterns("onnx", "README.md", "eval_results.json"))
    if not lexical:
        for name in ("lexical.safetensors", "lexical_vocab.json"):
            (out / name).unlink(missing_ok=True)
        config = AutoConfig.from_pretrained(out)
        config.lexical_weight = 0.0
        config.save_pretrained(out)
    return out


def release(folder: str | Path, onnx: bool = True, card: bool = True, verdict: str | None = None) -> None:
    """verdict: force a verdict option (analyzer.training.verdict.OPTIONS) instead of the cross-validated choice."""
    recalibrate(folder, verdict)
    if onnx:  # onnx/encoder.onnx, encoder.int8.onnx (dynamic int8), step.onnx: the torch-free default runtime
        from analyzer.model.onnx_export import export
        export(folder)
    from analyzer.model.hub import write_hub_files
    write_hub_files(folder)  # modeling_scam_tagger.py + auto_map: AutoModel.from_pretrained(..., trust_remote_code=True)
    if card:
        from analyzer.release.card import write_card
        write_card(Path(folder))
