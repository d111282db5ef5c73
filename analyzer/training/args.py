"""Training options: a plain dataclass and its command-line flags, importable without torch (the CLI starts fast)."""
from __future__ import annotations

import shlex
import sys
from dataclasses import asdict, dataclass, field


@dataclass
class TrainArgs:
    output: str = "models/scam-tagger-zh"
    base_model: str = "default"
    layers: int = 6
    epochs: int = 6
    lr: float = 1e-4
    head_lr: float = 2e-3
    batch_turns: int = 64
    max_turn_tokens: int = 64
    silver: int = 0
    seed: int = 13
    limit: int = 0  # train on the first N gold dialogues only (smoke tests)
    threads: int = 0
    save_dtype: str = "float16"
    lexical: int = 1  # 1: fit the character n-gram tactic channel and mix it in (weight chosen on selection); 0: none
    bf16: int = 1  # 1: bfloat16 autocast for the forward pass (AMX on these CPUs, several times faster); 0: fp32
    holdout: int = 1  # 1: hold whole types out of training as a selection fold (analyzer.training.folds); 0: none
    augment: int = 1  # 1: restyle training dialogues (ASR, no punctuation) and randomise the party bit; 0: none
    command: str = field(default="", repr=False)


def add_arguments(parser) -> None:
    defaults = TrainArgs()
    for name, value in asdict(defaults).items():
        if name == "command":
            continue
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)


def args_from_namespace(ns) -> TrainArgs:
    values = {k: getattr(ns, k) for k in TrainArgs.__dataclass_fields__ if hasattr(ns, k)}
    values["command"] = "python -m analyzer train " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    return TrainArgs(**values)
