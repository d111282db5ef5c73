"""The `corpus` subcommand: build the splits, print and check the counts, the agreement study, validate raw files,
freeze the out-of-distribution test sets."""
from __future__ import annotations

import json
import sys

from analyzer.cli.common import CommandError


def cmd_build(args) -> int:
    from analyzer.corpus.build import main as build
    from analyzer.corpus.validate import RawRowError
    try:
        build(freeze=args.freeze)
    except RawRowError as err:
        raise CommandError(str(err)) from None
    return 0


def cmd_stats(args) -> int:
    from analyzer.corpus.stats import main as stats
    return stats()


def cmd_agreement(args) -> int:
    from analyzer.corpus.agreement import main as agreement
    agreement()
    return 0


def cmd_validate(args) -> int:
    from analyzer.corpus.validate import main as validate
    return validate(args.files)


def cmd_freeze_ood(args) -> int:
    from analyzer.corpus import load_split
    from analyzer.corpus.ood import FrozenSetError, freeze
    try:
        report = freeze(load_split("train") + load_split("dev"))
    except FrozenSetError as err:
        raise CommandError(str(err)) from None
    print(json.dumps(report, ensure_ascii=False, indent=1))
    print("verified against their locks" if report["frozen"] else "written and locked", file=sys.stderr)
    return 0


def register(sub) -> None:
    corpus = sub.add_parser("corpus", help="build, check and freeze the annotated corpus")
    commands = corpus.add_subparsers(dest="corpus_command", required=True)
    p = commands.add_parser("build", help="rebuild gold splits and the silver set from datasets/raw (test stays frozen)")
    p.add_argument("--freeze", action="store_true", help="lock the test split when it has no lock yet")
    p.set_defaults(handler=cmd_build)
    commands.add_parser("stats", help="print the counts and check the corpus requirements").set_defaults(handler=cmd_stats)
    commands.add_parser("agreement", help="the inter-annotator agreement study").set_defaults(handler=cmd_agreement)
    p = commands.add_parser("validate", help="check raw annotated JSONL files against the guide")
    p.add_argument("files", nargs="+")
    p.set_defaults(handler=cmd_validate)
    commands.add_parser("freeze-ood", help="assemble and lock datasets/ood/ (once; later: verify)").set_defaults(
        handler=cmd_freeze_ood)
