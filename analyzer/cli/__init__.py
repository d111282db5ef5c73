"""`python -m analyzer` / `scam-analyzer`: every subcommand registers here, in one place.

Every error a user can cause ends in one line on standard error and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from analyzer.cli import analyze, corpus, eval, explain, ray, serve, train
from analyzer.cli.common import EXIT_USAGE, CommandError
from analyzer.readers import InputError

SUBCOMMANDS = (analyze, explain, eval, train, corpus, serve, ray)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scam-analyzer", description="Chinese scam-call conversation analyzer")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (InputError, CommandError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; no output file was replaced", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
