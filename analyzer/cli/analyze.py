"""`python -m analyzer` / `scam-analyzer`: a thin face over the Analyzer facade.

Every error a user can cause ends in one line on standard error and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

from analyzer import __version__
from analyzer.readers import FORMATS, InputError, iter_records
from analyzer.writers import jsonl_line

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


def _resume_point(partial: Path) -> list[str]:
    """Ids already written to a partial output; a line cut by the interruption is dropped from the file."""
    if not partial.exists():
        return []
    data = partial.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with open(partial, "r+b") as fh:
            fh.truncate(len(complete))
    ids = []
    for line in complete.decode("utf-8").splitlines():
        ids.append(json.loads(line)["id"])
    return ids


def cmd_analyze(args) -> int:
    """Stream predictions; to a file they go through OUT.partial, renamed into place when the run completes."""
    analyzer = load_analyzer(args.model)
    skipped = 0

    def dialogues():
        nonlocal skipped
        for record in iter_records(args.input, fmt=args.format, encoding=args.encoding):
            if record.error is None:
                yield record.dialogue
            elif args.skip_invalid:
                skipped += 1
                print(f"skipped: {record.error}", file=sys.stderr)
            else:
                raise InputError(record.error)

    to_file = args.output not in (None, "-")
    if not to_file:
        count = 0
        for prediction in progress(analyzer.iter_analyze(dialogues(), batch_size=args.batch_size), desc="analyze"):
            sys.stdout.write(jsonl_line(prediction.to_dict()))
            count += 1
        if count == 0:
            raise CommandError(f"{args.input}: no valid dialogue to analyze ({skipped} invalid)")
        return 0

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    done = _resume_point(partial) if args.resume else []
    if not args.resume and partial.exists():
        partial.unlink()
    stream = dialogues()
    for expected in done:  # skip what the interrupted run already wrote, checking it is the same input
        got = next(stream, None)
        if got is None or got.id != expected:
            raise CommandError(f"{partial} does not match {args.input} (expected {expected!r}, found "
                               f"{None if got is None else got.id!r}); delete it or run without --resume")
    count = len(done)
    try:
        with open(partial, "a", encoding="utf-8") as fh:
            for prediction in progress(analyzer.iter_analyze(stream, batch_size=args.batch_size), desc="analyze"):
                fh.write(jsonl_line(prediction.to_dict()))
                count += 1
                if count % args.batch_size == 0:
                    fh.flush()
            fh.flush()
            os.fsync(fh.fileno())
    except InputError:
        partial.unlink(missing_ok=True)
        raise
    except KeyboardInterrupt:
        raise CommandError(f"interrupted after {count} dialogue(s); {out} was not replaced; "
                           f"rerun with --resume to continue") from None
    if count == 0:
        partial.unlink(missing_ok=True)
        raise CommandError(f"{args.input}: no valid dialogue to analyze ({skipped} invalid)")
    os.replace(partial, out)
    resumed = f" ({len(done)} from the interrupted run)" if done else ""
    print(f"wrote {count} prediction(s) to {out}{resumed}" + (f"; skipped {skipped} invalid" if skipped else ""),
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
    p.add_argument("-o", "--output", help="output JSONL (default: standard output); replaced only when the run completes")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUTPUT.partial")
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
