"""Speed, memory and parity of the tagger's runtimes on this machine, side by side in one run:
torch fp32, ONNX fp32 and ONNX int8 (onnxruntime's dynamic quantisation), on the gold test split.

    python benchmarks/speed.py [--model PATH] [--export] [--dialogues 200] [--threads 2] [-o OUT.json]

Per runtime: batch dialogues per second (median of --repeats passes), p50/p95 milliseconds per live turn (one new turn
and the bounded state), peak RSS and load time; and how far each ONNX runtime's predictions are from torch's (alerts,
call probabilities, per-turn tactic predictions). Each runtime runs in its own subprocess so that peak memory is its
own (the ONNX ones never import torch). The ONNX runtimes use the folder's export (onnx/, from the release step); a
folder without one, or --export, is exported into a temporary copy (the folder itself is never written). --bert-base
adds a random tagger with a bert-base-sized encoder (torch) to show what the smaller encoder buys. Writes
benchmarks/results/speed.json unless -o says otherwise.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = {"torch fp32": ("torch", "auto"), "onnx fp32": ("onnx", "fp32"), "onnx int8": ("onnx", "int8")}


def bert_base_random(folder: Path) -> Path:
    """Save a random tagger with a bert-base-chinese-sized encoder, reusing the shipped tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig

    from analyzer.model.modeling import ScamTaggerConfig, ScamTaggerModel
    from analyzer.paths import DEFAULT_MODEL_DIR

    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL_DIR)
    encoder = BertConfig(vocab_size=max(21128, len(tokenizer)), hidden_size=768, num_hidden_layers=12,
                         num_attention_heads=12, intermediate_size=3072, pad_token_id=1).to_dict()
    torch.manual_seed(0)
    model = ScamTaggerModel(ScamTaggerConfig(encoder=encoder, max_turn_tokens=64))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space exec created, whereas ru_maxrss keeps
    the parent's peak at fork time (the parent holding the bert-base model would inflate every child)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(model_path: str | None, n_dialogues: int, threads: int, runtime: str, precision: str, repeats: int,
            live_dialogues: int, predictions: str | None) -> dict:
    """One runtime in this process (a child): load, batch passes, live turns, peak RSS."""
    import numpy as np

    from analyzer.api import Analyzer
    from analyzer.corpus import load_split

    if runtime == "torch":
        import torch
        torch.set_num_threads(threads)
    dialogues = load_split("test")[:n_dialogues]
    start = time.perf_counter()
    analyzer = Analyzer.from_pretrained(model_path, runtime=runtime, precision=precision, threads=threads)
    load_seconds = time.perf_counter() - start
    analyzer.analyze_many(dialogues[:4])  # warm-up
    rates, result = [], []
    for _ in range(repeats):  # a shared machine is noisy: report the median of several passes
        start = time.perf_counter()
        result = analyzer.analyze_many(dialogues, batch_size=16)
        rates.append(len(dialogues) / (time.perf_counter() - start))
    if predictions:
        Path(predictions).write_text(json.dumps([{"is_scam": p.is_scam, "scam_probability": p.scam_probability,
                                                  "alert_turn": p.alert_turn,
                                                  "predicted": [t.predicted for t in p.turns]} for p in result]))
    latencies = []
    for d in dialogues[:live_dialogues]:
        session = analyzer.live()
        for turn in d["turns"]:
            t0 = time.perf_counter()
            session.add_turn(turn["speaker"], turn["text"])
            latencies.append((time.perf_counter() - t0) * 1000)
    backend = analyzer.backend
    params = sum(p.numel() for p in backend.model.parameters()) if hasattr(backend, "model") else None
    return {"model": analyzer.name, "runtime": runtime, "precision": getattr(backend, "precision", "fp32"),
            "parameters": params, "dialogues": len(dialogues), "turns": sum(len(d["turns"]) for d in dialogues),
            "load_seconds": round(load_seconds, 2),
            "batch_dialogues_per_second": round(float(np.median(rates)), 2),
            "batch_dialogues_per_second_passes": [round(r, 2) for r in rates],
            "live_turn_ms_p50": round(float(np.percentile(latencies, 50)), 2),
            "live_turn_ms_p95": round(float(np.percentile(latencies, 95)), 2),
            "live_turns_measured": len(latencies),
            "peak_rss_mb": peak_rss_mb(),
            "torch_imported": "torch" in sys.modules}


def agreement(reference: list[dict], other: list[dict]) -> dict:
    """How far a runtime's predictions are from the reference runtime's on the same dialogues."""
    turns = [(a, b) for p, q in zip(reference, other) for a, b in zip(p["predicted"], q["predicted"])]
    diffs = sorted(abs(p["scam_probability"] - q["scam_probability"]) for p, q in zip(reference, other))
    return {"alerts_identical": round(sum(p["is_scam"] == q["is_scam"] for p, q in zip(reference, other))
                                      / len(reference), 4),
            "alert_turn_identical": round(sum(p["alert_turn"] == q["alert_turn"] for p, q in zip(reference, other))
                                          / len(reference), 4),
            "probability_abs_diff_mean": round(sum(diffs) / len(diffs), 5),
            "probability_abs_diff_p95": round(diffs[int(0.95 * (len(diffs) - 1))], 5),
            "probability_abs_diff_max": round(diffs[-1], 5),
            "turn_predictions_identical": round(sum(a == b for a, b in turns) / len(turns), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder with an ONNX export (default: the shipped model)")
    parser.add_argument("--export", action="store_true", help="export a temporary copy of the folder to ONNX first")
    parser.add_argument("--dialogues", type=int, default=200)
    parser.add_argument("--live-dialogues", type=int, default=60, help="dialogues replayed turn by turn for latency")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="batch passes; the median is reported")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated: " + ", ".join(RUNTIMES))
    parser.add_argument("--bert-base", action="store_true", help="also a random bert-base-sized tagger (torch)")
    parser.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "speed.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="torch", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child or None, args.dialogues, args.threads, args.runtime, args.precision,
                                 args.repeats, args.live_dialogues, args.predictions)))
        return 0

    from analyzer.paths import DEFAULT_MODEL_DIR
    tmp = tempfile.TemporaryDirectory()
    model = source = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    labels = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    unknown = [r for r in labels if r not in RUNTIMES]
    if unknown:
        parser.error(f"unknown runtime(s) {unknown}; choose from {list(RUNTIMES)}")
    wants_onnx = any(RUNTIMES[r][0] == "onnx" for r in labels)
    if args.export or (wants_onnx and not (model / "onnx" / "step.onnx").exists()):
        from analyzer.model.onnx_export import export
        print(f"exporting a temporary copy of {model} to ONNX", file=sys.stderr)
        model = Path(shutil.copytree(model, Path(tmp.name) / model.name, ignore=shutil.ignore_patterns("onnx")))
        export(model)
    configs = [(label, str(model), *RUNTIMES[label]) for label in labels]
    if args.bert_base:
        random_folder = str(bert_base_random(Path(tmp.name) / "bert-base"))
        configs.append(("bert-base random (torch)", random_folder, "torch", "auto"))
    results, predictions = {}, {}
    for label, path, runtime, precision in configs:
        dump = Path(tmp.name) / f"{label.replace(' ', '_')}.json"
        done = subprocess.run([sys.executable, __file__, "--child", path, "--dialogues", str(args.dialogues),
                               "--threads", str(args.threads), "--runtime", runtime, "--precision", precision,
                               "--repeats", str(args.repeats), "--live-dialogues", str(args.live_dialogues),
                               "--predictions", str(dump)], capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(f"{label}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        results[label] = json.loads(done.stdout.strip().splitlines()[-1])
        predictions[label] = json.loads(dump.read_text())
    reference = "torch fp32" if "torch fp32" in predictions else None
    if reference:
        for label in results:
            if label != reference and results[label]["model"].split("+")[0] == results[reference]["model"]:
                results[label]["agreement_with_torch_fp32"] = agreement(predictions[reference], predictions[label])
    import onnxruntime
    out = {"machine": {"cpu_threads": args.threads, "platform": platform.platform(), "processor": _cpu(),
                       "python": platform.python_version(), "onnxruntime": onnxruntime.__version__},
           "model": str(source), "exported_copy": model != source, "results": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    keys = ["batch_dialogues_per_second", "live_turn_ms_p50", "live_turn_ms_p95", "peak_rss_mb", "load_seconds"]
    print(f"{'':26}" + "".join(f"{k:>28}" for k in keys + ["alerts_identical"]))
    for label, r in results.items():
        same = r.get("agreement_with_torch_fp32", {}).get("alerts_identical", "")
        print(f"{label:26}" + "".join(f"{r[k]:>28}" for k in keys) + f"{same:>28}")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    return name + (" (avx512_vnni)" if "avx512_vnni" in info else "")


if __name__ == "__main__":
    sys.exit(main())
