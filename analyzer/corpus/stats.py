"""Print the corpus counts and check them against the corpus v2 requirements (exit 1 when one fails).

`python -m analyzer corpus stats` (also `python -m analyzer.corpus.stats`, the corpus issue's check command).
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter

from analyzer.corpus import GOLD_DIR, OOD_NAMES, SPLITS, load_split
from analyzer.corpus.registers import asr_style, cue_coverage, disclaimer_share, role_neutral
from analyzer.taxonomy import TACTIC_IDS

REQUIREMENTS = {"dialogues": 2700, "benign_lookalikes": 1100, "scam_types_with_10": 40, "disclaimer_gap": 0.10,
                "role_neutral_share": 0.40, "asr_share": 0.20, "cue_coverage": 0.85}
def ood_status() -> dict:
    from analyzer.corpus.ood import FrozenSetError
    status = {}
    for name in OOD_NAMES:
        try:
            rows = load_split(name)
            status[name] = {"locked": True, "dialogues": len(rows)}
        except FrozenSetError as err:
            status[name] = {"locked": False, "error": str(err)}
    return status


def compute() -> dict:
    gold = {s: load_split(s) for s in SPLITS}
    rows = [d for s in SPLITS for d in gold[s]]
    tactic_turns = Counter(t for d in rows for turn in d["turns"] for t in set(turn.get("tactics") or []))
    benign = [d for d in rows if d["label"] == "benign"]
    scams = [d for d in rows if d["label"] == "scam"]
    scam_types = Counter(d.get("scam_type") for d in scams)
    ood = ood_status()
    unseen = set()
    if ood["ood/unseen_types"]["locked"]:
        unseen = {d["scam_type"] for d in load_split("ood/unseen_types") if d["label"] == "scam"}
    train_dev_types = {d.get("scam_type") for s in ("train", "dev") for d in gold[s] if d["label"] == "scam"}
    lookalikes = [d for d in benign if (d.get("meta") or {}).get("lookalike")]
    return {
        "dialogues": len(rows),
        "turns": sum(len(d["turns"]) for d in rows),
        "per_split": {s: {"dialogues": len(gold[s]), "scam": sum(d["label"] == "scam" for d in gold[s]),
                          "benign": sum(d["label"] == "benign" for d in gold[s])} for s in SPLITS},
        "benign_share": round(len(benign) / len(rows), 4) if rows else 0.0,
        "benign_lookalikes": len(lookalikes),
        "benign_types": dict(Counter((d.get("meta") or {}).get("benign_type") or (d.get("meta") or {}).get("taf_type")
                                     for d in benign).most_common()),
        "scam_types": dict(scam_types.most_common()),
        "scam_types_with_10": sum(n >= 10 for n in scam_types.values()),
        "sources": dict(Counter(d.get("source") for d in rows)),
        "disclaimer_share": {"scam": round(disclaimer_share(scams), 4), "lookalike": round(disclaimer_share(lookalikes), 4)},
        "role_neutral_share": round(sum(map(role_neutral, rows)) / max(1, len(rows)), 4),
        "asr_share": round(sum(map(asr_style, rows)) / max(1, len(rows)), 4),
        "cue_coverage": cue_coverage(rows),
        "turns_per_tactic": {t: tactic_turns.get(t, 0) for t in TACTIC_IDS},
        "mean_turns": round(sum(len(d["turns"]) for d in rows) / max(1, len(rows)), 2),
        "ood": ood,
        "unseen_types_in_train_dev": sorted(unseen & train_dev_types),
    }


def check(stats: dict) -> list[str]:
    failures = []
    for key in ("dialogues", "benign_lookalikes", "scam_types_with_10"):
        if stats[key] < REQUIREMENTS[key]:
            failures.append(f"{key}: {stats[key]} < {REQUIREMENTS[key]}")
    gap = stats["disclaimer_share"]["lookalike"] - stats["disclaimer_share"]["scam"]
    if gap > REQUIREMENTS["disclaimer_gap"]:
        failures.append(f"disclaimer talk: look-alikes {stats['disclaimer_share']['lookalike']:.1%} vs scams "
                        f"{stats['disclaimer_share']['scam']:.1%} (gap over {REQUIREMENTS['disclaimer_gap']:.0%})")
    for key in ("role_neutral_share", "asr_share"):
        if stats[key] < REQUIREMENTS[key]:
            failures.append(f"{key}: {stats[key]:.1%} < {REQUIREMENTS[key]:.0%}")
    for tactic, share in stats["cue_coverage"].items():
        if share is not None and share < REQUIREMENTS["cue_coverage"]:
            failures.append(f"cue coverage of {tactic}: {share:.1%} < {REQUIREMENTS['cue_coverage']:.0%}")
    for name, status in stats["ood"].items():
        if not status["locked"]:
            failures.append(f"{name}: {status['error']}")
    if stats["unseen_types_in_train_dev"]:
        failures.append(f"unseen_types scam types in train/dev: {stats['unseen_types_in_train_dev']}")
    return failures


def main() -> int:
    stats = compute()
    build = GOLD_DIR / "build_report.json"
    if build.exists():
        stats["build"] = json.loads(build.read_text())
    print(json.dumps(stats, ensure_ascii=False, indent=2))
    failures = check(stats)
    for failure in failures:
        print(f"REQUIREMENT NOT MET: {failure}")
    if not failures:
        print("all corpus requirements met")
    return 1 if failures else 0


if __name__ == "__main__":  # the corpus issue's check command; the same as `python -m analyzer corpus stats`
    sys.exit(main())
