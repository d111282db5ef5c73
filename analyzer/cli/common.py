"""What every subcommand shares: the one-line error, loading the analyzer, the input options, progress."""
from __future__ import annotations

import argparse
import sys

from analyzer.readers import FORMATS

EXIT_USAGE = 2
RUNTIMES = ("auto", "torch", "onnx")


class CommandError(Exception):
    """A failure to report in one line (bad input, missing model, bad option)."""


def load_analyzer(model: str | None, runtime: str = "auto"):
    from analyzer.api import Analyzer
    from analyzer.model.errors import ModelLoadError
    try:
        return Analyzer.from_pretrained(model, runtime=runtime)
    except ModelLoadError as err:
        raise CommandError(str(err)) from None


def progress(iterable, total=None, desc="", unit="dialogue"):
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="transcript file, or - for standard input")
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected from the content)")
    parser.add_argument("--encoding", default=None, help="input encoding (default utf-8; e.g. gbk)")
    parser.add_argument("--skip-invalid", action="store_true", help="report invalid dialogues and go on with the rest")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="model folder, 'default' (shipped) or 'rules' (keyword baseline)")
    parser.add_argument("--runtime", default="auto", choices=RUNTIMES,
                        help="inference runtime for a model folder: onnx (onnxruntime, no torch), torch, or auto "
                             "(onnx when the folder has an ONNX export, else torch)")
