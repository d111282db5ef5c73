"""Print the corpus counts and check them against the corpus issue's requirements (exit 1 when one fails)."""
from __future__ import annotations

import json
import sys
from collections import Counter

from analyzer.corpus import GOLD_DIR, SPLITS, load_split
from analyzer.taxonomy import TACTIC_IDS

REQUIREMENTS = {"dialogues": 1200, "turns": 12000, "benign_share": 0.45, "benign_lookalikes": 400,
                "scam_types": 12, "turns_per_tactic": 150, "teleantifraud_annotated": 300}


def compute() -> dict:
    gold = {s: load_split(s) for s in SPLITS}
    rows = [d for s in SPLITS for d in gold[s]]
    tactic_turns = Counter(t for d in rows for turn in d["turns"] for t in set(turn.get("tactics") or []))
    benign = [d for d in rows if d["label"] == "benign"]
    return {
        "dialogues": len(rows),
        "turns": sum(len(d["turns"]) for d in rows),
        "per_split": {s: {"dialogues": len(gold[s]), "scam": sum(d["label"] == "scam" for d in gold[s]),
                          "benign": sum(d["label"] == "benign" for d in gold[s])} for s in SPLITS},
        "benign_share": round(len(benign) / len(rows), 4) if rows else 0.0,
        "benign_lookalikes": sum(bool((d.get("meta") or {}).get("lookalike")) for d in benign),
        "benign_types": dict(Counter((d.get("meta") or {}).get("benign_type") or (d.get("meta") or {}).get("taf_type")
                                     for d in benign).most_common()),
        "scam_types": dict(Counter(d.get("scam_type") for d in rows if d["label"] == "scam").most_common()),
        "sources": dict(Counter(d.get("source") for d in rows)),
        "teleantifraud_annotated": sum(d.get("source") == "teleantifraud" for d in rows),
        "turns_per_tactic": {t: tactic_turns.get(t, 0) for t in TACTIC_IDS},
        "mean_turns": round(sum(len(d["turns"]) for d in rows) / max(1, len(rows)), 2),
    }


def check(stats: dict) -> list[str]:
    failures = []
    for key in ("dialogues", "turns", "benign_lookalikes", "teleantifraud_annotated"):
        if stats[key] < REQUIREMENTS[key]:
            failures.append(f"{key}: {stats[key]} < {REQUIREMENTS[key]}")
    if stats["benign_share"] < REQUIREMENTS["benign_share"]:
        failures.append(f"benign_share: {stats['benign_share']} < {REQUIREMENTS['benign_share']}")
    if len(stats["scam_types"]) < REQUIREMENTS["scam_types"]:
        failures.append(f"scam types: {len(stats['scam_types'])} < {REQUIREMENTS['scam_types']}")
    for tactic, n in stats["turns_per_tactic"].items():
        if n < REQUIREMENTS["turns_per_tactic"]:
            failures.append(f"tactic {tactic}: {n} turns < {REQUIREMENTS['turns_per_tactic']}")
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


if __name__ == "__main__":
    sys.exit(main())
