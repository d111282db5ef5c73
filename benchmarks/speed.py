"""Speed and memory of the tagger on this machine: live p95 per new turn, batch dialogues per second, peak RSS.

    python benchmarks/speed.py [--model PATH] [--dialogues 200] [--threads 2] [-o benchmarks/results/speed.json]

Each configuration runs in its own subprocess so that peak memory is its own. Also measures a bert-base-sized
tagger with random weights (12 layers, 768 wide, 21,128-token vocabulary) to show what the smaller encoder buys.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def measure(model_path: str | None, n_dialogues: int, threads: int, runtime: str = "torch", repeats: int = 3) -> dict:
    import numpy as np
    import torch

    from analyzer.api import Analyzer
    from analyzer.corpus import load_split

    torch.set_num_threads(threads)
    dialogues = load_split("test")[:n_dialogues]
    if runtime == "onnx":
        from analyzer.model.onnx_export import export
        from analyzer.paths import DEFAULT_MODEL_DIR
        export(model_path or DEFAULT_MODEL_DIR)
    analyzer = Analyzer.from_pretrained(model_path, runtime=runtime)
    analyzer.analyze_many(dialogues[:4])  # warm-up
    rates = []
    for _ in range(repeats):  # a shared 2-core machine is noisy: report the median of several passes
        start = time.perf_counter()
        analyzer.analyze_many(dialogues, batch_size=16)
        rates.append(len(dialogues) / (time.perf_counter() - start))
    latencies = []
    for d in dialogues[:60]:
        session = analyzer.live()
        for turn in d["turns"]:
            t0 = time.perf_counter()
            session.add_turn(turn["speaker"], turn["text"])
            latencies.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in analyzer.backend.model.parameters()) if hasattr(analyzer.backend, "model") else 0
    return {"model": analyzer.name, "runtime": runtime, "parameters": params, "dialogues": len(dialogues),
            "turns": sum(len(d["turns"]) for d in dialogues),
            "batch_dialogues_per_second": round(float(np.median(rates)), 2),
            "batch_dialogues_per_second_passes": [round(r, 2) for r in rates],
            "live_turn_ms_p50": round(float(np.percentile(latencies, 50)), 2),
            "live_turn_ms_p95": round(float(np.percentile(latencies, 95)), 2),
            "live_turns_measured": len(latencies),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    parser.add_argument("--dialogues", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="batch passes; the median is reported")
    parser.add_argument("--skip-bert-base", action="store_true")
    parser.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "speed.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="torch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child or None, args.dialogues, args.threads, args.runtime, args.repeats)))
        return 0
    import tempfile
    configs = [("shipped (torch)", args.model or "", "torch"), ("shipped (onnxruntime)", args.model or "", "onnx")]
    tmp = tempfile.TemporaryDirectory()
    if not args.skip_bert_base:
        configs.append(("bert-base random", str(bert_base_random(Path(tmp.name))), "torch"))
    results = {}
    for label, path, runtime in configs:
        done = subprocess.run([sys.executable, __file__, "--child", path, "--dialogues", str(args.dialogues),
                               "--threads", str(args.threads), "--runtime", runtime, "--repeats", str(args.repeats)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    out = {"machine": {"cpu_threads": args.threads, "platform": platform.platform(), "python": platform.python_version()},
           "results": results}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n")
    keys = ["parameters", "batch_dialogues_per_second", "live_turn_ms_p50", "live_turn_ms_p95", "peak_rss_mb"]
    print(f"{'':24}" + "".join(f"{k:>28}" for k in keys))
    for label, r in results.items():
        print(f"{label:24}" + "".join(f"{r[k]:>28}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
