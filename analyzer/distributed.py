"""The analyzer as a Ray Data job, for users past one machine: `map_batches` over sharded JSONL or Parquet.

    python -m analyzer ray INPUT [INPUT ...] -o OUT [--model PATH] [--runtime auto|onnx|torch] [--overwrite]

INPUT may be files, folders or globs of transcript JSONL (`*.jsonl`) or Parquet (`*.parquet`) with `id` and
`turns` columns, or URIs Ray reads (s3://, gs://, a shared mount). The driver reads the model folder once and puts
it in the object store; each actor unpacks it into a temporary folder, loads one Analyzer and predicts a batch at a
time, so workers need the package but not the model files. OUT gets JSONL shards whose lines are exactly the rows
`analyze` writes. Runs on the cluster given by `address` (or $RAY_ADDRESS), else a local instance. A run into an
OUT that already holds files stops unless `overwrite` is set, so a re-run never doubles the output.
"""
from __future__ import annotations

import glob
import json
import tempfile
from pathlib import Path
from typing import Optional

from analyzer.writers import jsonl_line

class OutputExistsError(RuntimeError):
    """The output folder already holds files and the run was not asked to overwrite them."""


def model_files(model: Optional[str]) -> dict[str, bytes] | str | None:
    """The model folder's files by relative path (what the workers get), or the built-in name as it is."""
    from analyzer.api import DEFAULT, RULES
    from analyzer.paths import DEFAULT_MODEL_DIR

    if model == RULES:
        return model
    folder = DEFAULT_MODEL_DIR if model in (None, "", DEFAULT) else Path(model)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class AnalyzerPredictor:
    """Stateful callable for `map_batches`: one model per actor, unpacked from the object store, reused per batch."""

    def __init__(self, model, runtime: str = "auto"):
        import ray

        from analyzer.api import Analyzer

        if isinstance(model, ray.ObjectRef):
            model = ray.get(model)
        if isinstance(model, dict):
            self._folder = tempfile.TemporaryDirectory(prefix="scam-analyzer-model-")
            for name, data in model.items():
                path = Path(self._folder.name) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            model = self._folder.name
        self.analyzer = Analyzer.from_pretrained(model, runtime=runtime)

    def __call__(self, batch: dict) -> dict:
        dialogues = [{"id": str(i), "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in turns]}
                     for i, turns in zip(batch["id"], batch["turns"])]
        return {"line": [jsonl_line(p.to_dict()) for p in self.analyzer.analyze_many(dialogues)]}


def _datasink(output: str, overwrite: bool):
    """JSONL shards written line for line from the predictor's serialised rows (no pandas round trip that would
    turn a missing alert turn into NaN or nested turns into strings)."""
    from ray.data import SaveMode
    from ray.data.datasource import BlockBasedFileDatasink

    class PredictionLines(BlockBasedFileDatasink):
        def __init__(self):
            # local folders are checked before the run (_check_output); a remote path that exists stops Ray itself
            mode = SaveMode.OVERWRITE if overwrite else SaveMode.ERROR if "://" in output else SaveMode.APPEND
            super().__init__(output, file_format="jsonl", mode=mode)

        def write_block_to_file(self, block, file) -> None:
            file.write("".join(block.to_arrow().column("line").to_pylist()).encode("utf-8"))

    return PredictionLines()


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


def _check_output(output: str, overwrite: bool) -> None:
    if "://" in output or overwrite:
        return  # remote stores: Ray's SaveMode.ERROR refuses an existing path; local: overwrite clears the folder
    folder = Path(output)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputExistsError(f"{output} already holds files; choose a new folder or pass --overwrite")


def run(inputs: list[str], output: str, model: Optional[str] = None, batch_size: int = 32, concurrency: int = 2,
        runtime: str = "auto", num_cpus: Optional[int] = None, address: Optional[str] = None,
        overwrite: bool = False) -> int:
    """Predict every dialogue of the inputs into JSONL shards under `output`; returns the number written."""
    import ray

    _check_output(output, overwrite)
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    shipped = model_files(model)
    model_ref = ray.put(shipped) if isinstance(shipped, dict) else shipped
    ds = read_dataset(inputs).map_batches(AnalyzerPredictor, fn_constructor_kwargs={"model": model_ref, "runtime": runtime},
                                          batch_size=batch_size, concurrency=concurrency, batch_format="pandas")
    ds = ds.materialize()
    count = ds.count()
    ds.write_datasink(_datasink(output, overwrite))
    return count


def read_predictions(output: str) -> list[dict]:
    """The rows a local run wrote (for checks and small jobs)."""
    return [json.loads(line) for path in sorted(Path(output).glob("*.jsonl")) for line in path.read_text("utf-8").splitlines()]
