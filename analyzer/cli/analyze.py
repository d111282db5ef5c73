"""The `analyze` and `version` subcommands: stream predictions as JSON lines."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from analyzer import __version__
from analyzer.cli.common import CommandError, add_input_options, add_model_options, load_analyzer, progress
from analyzer.readers import InputError, iter_records
from analyzer.writers import jsonl_line


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
    analyzer = load_analyzer(args.model, args.runtime)
    skipped = 0

    def dialogues():
        nonlocal skipped
        for record in iter_records(args.input, fmt=args.format, encoding=args.encoding):
            for notice in record.notices:
                print(f"note: {notice}", file=sys.stderr)
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


def register(sub) -> None:
    p = sub.add_parser("analyze", help="tag turns with tactics and score dialogues; writes JSONL")
    add_input_options(p)
    p.add_argument("-o", "--output", help="output JSONL (default: standard output); replaced only when the run completes")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUTPUT.partial")
    add_model_options(p)
    p.add_argument("--batch-size", type=int, default=16)
    p.set_defaults(handler=cmd_analyze)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(handler=cmd_version)
