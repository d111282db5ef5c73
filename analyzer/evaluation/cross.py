"""Cross-corpus runs: train on one source, test on the other, both ways (gold <-> TeleAntiFraud silver).

The tagger (trained on gold only) and a TF-IDF model trained on gold are tested on a seeded silver sample; a
TF-IDF model trained on the rest of the silver set (dialogue labels only) is tested on the gold test split.
"""
from __future__ import annotations

import random
from typing import Optional

from analyzer.api import Analyzer
from analyzer.corpus import load_split
from analyzer.evaluation.kinds import Context, dialogue_task
from analyzer.evaluation.predict import predict_all
from analyzer.evaluation.runner import code_version, rows_sha256
from analyzer.evaluation.tasks import Task


def run_cross_corpus(model: Optional[str] = None, sample: int = 2000, seed: int = 0) -> dict:
    from analyzer.evaluation.tfidf import TfidfBackend

    rng = random.Random(seed)
    silver = load_split("silver")
    rng.shuffle(silver)
    silver_test, silver_train = silver[:sample], silver[sample:sample + max(sample, 3000)]
    gold_test = load_split("test")
    task = Task(task="dialogue_detection", kind="dialogue", headline=["f1"], bootstrap=200)
    ctx = Context(seed=seed)
    directions = {"gold->silver": {}, "silver->gold": {}}
    gold_systems = {"model": Analyzer.from_pretrained(model),
                    "tfidf": Analyzer(TfidfBackend(seed=seed).fit(load_split("train"), load_split("dev")))}
    for name, system in gold_systems.items():
        directions["gold->silver"][name] = dialogue_task(task, silver_test, predict_all(system, silver_test, name), ctx)
    silver_system = Analyzer(TfidfBackend(seed=seed).fit(silver_train))
    directions["silver->gold"]["tfidf"] = dialogue_task(task, gold_test, predict_all(silver_system, gold_test, "tfidf"),
                                                        ctx)
    return {"config": {"model": model, "sample": sample, "silver_train": len(silver_train), "seed": seed},
            "datasets": {"silver": {"dialogues": len(silver_test), "sha256": rows_sha256(silver_test)},
                         "test": {"dialogues": len(gold_test), "sha256": rows_sha256(gold_test)}},
            "code_version": code_version(), "directions": directions}
