"""The `train` subcommand."""
from __future__ import annotations


def cmd_train(args) -> int:
    from analyzer.model.train import train
    from analyzer.model.train_args import args_from_namespace
    train(args_from_namespace(args))
    return 0


def register(sub, handlers) -> None:
    from analyzer.model.train_args import add_arguments
    parser = sub.add_parser("train", help="fine-tune the tactic tagger on the gold corpus and calibrate it on dev")
    add_arguments(parser)
    handlers["train"] = cmd_train
