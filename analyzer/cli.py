"""`python -m analyzer` / `scam-analyzer`: a thin face over the Analyzer facade.

Every error a user can cause ends in one line on standard error and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from analyzer import __version__
from analyzer.readers import FORMATS, InputError, iter_records
from analyzer.writers import atomic_output, jsonl_line

EXIT_USAGE = 2


class CommandError(Exception):
    """A failure to report in one line (bad input, missing model, bad option)."""


def load_analyzer(model: str | None):
    from analyzer.api import Analyzer
    from analyzer.model.errors import ModelLoadError
    try:
        return Analyzer.from_pretrained(None if model in (None, "default") else model)
    except ModelLoadError as err:
        raise CommandError(str(err)) from None


def progress(iterable, total=None, desc="", unit="dialogue"):
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False)


def cmd_analyze(args) -> int:
    analyzer = load_analyzer(args.model)
    errors: list[str] = []

    def dialogues():
        for record in iter_records(args.input, fmt=args.format, encoding=args.encoding):
            if record.error is None:
                yield record.dialogue
            elif args.skip_invalid:
                errors.append(record.error)
            else:
                raise InputError(record.error)

    count = 0
    with atomic_output(args.output) as out:
        for prediction in progress(analyzer.iter_analyze(dialogues(), batch_size=args.batch_size), desc="analyze"):
            out.write(jsonl_line(prediction.to_dict()))
            count += 1
    for message in errors:
        print(f"skipped: {message}", file=sys.stderr)
    if count == 0:
        raise CommandError(f"{args.input}: no valid dialogue to analyze ({len(errors)} invalid)")
    if args.output not in (None, "-"):
        print(f"wrote {count} prediction(s) to {args.output}" + (f"; skipped {len(errors)} invalid" if errors else ""),
              file=sys.stderr)
    return 0


def cmd_version(args) -> int:
    print(f"scam-analyzer {__version__}")
    return 0


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="transcript file, or - for standard input")
    parser.add_argument("--format", choices=FORMATS, help="input format (default: detected from the content)")
    parser.add_argument("--encoding", default=None, help="input encoding (default utf-8; e.g. gbk)")
    parser.add_argument("--skip-invalid", action="store_true", help="report invalid dialogues and go on with the rest")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable]]:
    parser = argparse.ArgumentParser(prog="scam-analyzer", description="Chinese scam-call conversation analyzer")
    sub = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Callable] = {}

    p = sub.add_parser("analyze", help="tag turns with tactics and score dialogues; writes JSONL")
    add_input_options(p)
    p.add_argument("-o", "--output", help="output JSONL (default: standard output); written atomically")
    p.add_argument("--model", default="default", help="model folder, 'default' (shipped) or 'rules' (keyword baseline)")
    p.add_argument("--batch-size", type=int, default=16)
    handlers["analyze"] = cmd_analyze

    p = sub.add_parser("version", help="print the version")
    handlers["version"] = cmd_version

    for register in _extensions():
        register(sub, handlers)
    return parser, handlers


def _extensions():
    """Subcommands that live with their own code (train, eval, ...), imported only if present."""
    import importlib
    for module in ("analyzer.model.cli", "analyzer.evaluation.cli", "analyzer.chain.cli", "analyzer.serve_cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name and (module == err.name or module.startswith(err.name + ".")):
                continue
            raise
        yield mod.register


def main(argv=None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except (InputError, CommandError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; no output file was replaced", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
