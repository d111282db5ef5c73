"""The analyzer as a Ray Data job, for users past one machine: `map_batches` over sharded JSONL or Parquet.

    python -m analyzer ray INPUT [INPUT ...] -o OUT_DIR [--model PATH] [--batch-size 32] [--concurrency 2]

INPUT may be files, folders or globs of transcript JSONL (`*.jsonl`) or Parquet (`*.parquet`) with `id` and
`turns` columns. Each Ray actor loads one Analyzer and predicts a batch at a time; the output folder gets JSONL
shards with one prediction (the CLI's schema) per line. Connects to a running cluster when RAY_ADDRESS is set,
otherwise starts a local instance.
"""
from __future__ import annotations

import glob
import json
import sys
from typing import Optional


class AnalyzerPredictor:
    """Stateful callable for `map_batches`: one model per actor, reused across batches."""

    def __init__(self, model: Optional[str] = None, runtime: str = "torch"):
        from analyzer.api import Analyzer
        self.analyzer = Analyzer.from_pretrained(model, runtime=runtime)

    def __call__(self, batch):
        dialogues = [{"id": str(i), "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in turns]}
                     for i, turns in zip(batch["id"], batch["turns"])]
        predictions = [p.to_dict() for p in self.analyzer.analyze_many(dialogues)]
        return {"id": [p["id"] for p in predictions], "scam_probability": [p["scam_probability"] for p in predictions],
                "is_scam": [p["is_scam"] for p in predictions], "risk_level": [p["risk_level"] for p in predictions],
                "alert_turn": [-1 if p["alert_turn"] is None else p["alert_turn"] for p in predictions],
                "prediction": [json.dumps(p, ensure_ascii=False) for p in predictions]}


def _expand(inputs: list[str]) -> list[str]:
    paths = []
    for item in inputs:
        paths += sorted(glob.glob(item)) or [item]
    return paths


def read_dataset(inputs: list[str]):
    import ray

    paths = _expand(inputs)
    if all(p.endswith(".parquet") for p in paths):
        return ray.data.read_parquet(paths).select_columns(["id", "turns"])
    return ray.data.read_json(paths, lines=True).select_columns(["id", "turns"])


def run(inputs: list[str], output: str, model: Optional[str] = None, batch_size: int = 32, concurrency: int = 2,
        runtime: str = "torch", num_cpus: Optional[int] = None) -> int:
    """Predict every dialogue of the inputs into JSONL shards under `output`; returns the number written."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ds = read_dataset(inputs).map_batches(AnalyzerPredictor, fn_constructor_kwargs={"model": model, "runtime": runtime},
                                          batch_size=batch_size, concurrency=concurrency, batch_format="pandas")
    ds.write_json(output)
    return sum(1 for _ in ray.data.read_json(output, lines=True).iter_rows())
