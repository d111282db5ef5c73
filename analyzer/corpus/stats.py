"""Print the corpus counts and check them against the corpus v2 requirements (exit 1 when one fails).

`python -m analyzer corpus stats` (also `python -m analyzer.corpus.stats`, the corpus issue's check command).
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter

from analyzer.corpus import GOLD_DIR, OOD_NAMES, SPLITS, load_split
from analyzer.taxonomy import TACTIC_IDS

REQUIREMENTS = {"dialogues": 2700, "benign_lookalikes": 1100, "scam_types_with_10": 40, "disclaimer_gap": 0.10,
                "role_neutral_share": 0.40, "asr_share": 0.20, "cue_coverage": 0.85}
ROLE_NEUTRAL = re.compile(r"^(A|B|C|D|甲|乙|丙|丁|说话人\s*[0-9一二三A-D]|来电|接听|来电方|接听方|left|right|SPK\s*\d|"
                          r"speaker\s*\d|短信|本人)$", re.IGNORECASE)
DISCLAIMER = re.compile(r"骗子|诈骗|不收任何费用|不会索要|不会向您索要|营业厅|95\d{3}|96110")
PUNCTUATION = re.compile(r"[，。！？、；：,.!?;:]")
CUES = {"threat": r"否则|不然|违约金|起诉|逮捕|拘留|影响征信", "fake_insurance": r"保证金|验资|解冻费",
        "guided_operation": r"下载|共享屏幕|点链接|扫码", "isolation": r"别挂|不要挂"}


def role_neutral(d: dict) -> bool:
    return all(ROLE_NEUTRAL.match(t["speaker"].strip()) for t in d["turns"])


def asr_style(d: dict) -> bool:
    return sum(not PUNCTUATION.search(t["text"]) for t in d["turns"]) >= 0.8 * len(d["turns"])


def disclaimer_share(rows: list[dict]) -> float:
    return sum(any(DISCLAIMER.search(t["text"]) for t in d["turns"]) for d in rows) / max(1, len(rows))


def writer_summary(rows: list[dict]) -> str:
    """One line a writer checks a raw file against: the v2 register and look-alike targets, file by file."""
    scams = [d for d in rows if d["label"] == "scam"]
    lookalikes = [d for d in rows if d["label"] != "scam" and (d.get("meta") or {}).get("lookalike")]
    callee_first = [d for d in scams if not d["turns"][0].get("tactics")]
    coverage = {k: v for k, v in cue_coverage(rows).items() if v is not None}
    share = lambda part, whole: f"{len(part) / len(whole):.0%}" if whole else "n/a"  # noqa: E731
    return (f"ASR-style {share([d for d in rows if asr_style(d)], rows)}, role-neutral "
            f"{share([d for d in rows if role_neutral(d)], rows)}, callee speaks first in {share(callee_first, scams)} "
            f"of scams, disclaimer talk scams {disclaimer_share(scams):.0%} / look-alikes {disclaimer_share(lookalikes):.0%}, "
            f"cue coverage " + ", ".join(f"{k} {v:.0%}" for k, v in coverage.items()))


def cue_coverage(rows: list[dict]) -> dict[str, float | None]:
    """Among tactic-bearing scam turns with a tactic's cue words, the share that carry that tactic."""
    out = {}
    turns = [t for d in rows if d["label"] == "scam" for t in d["turns"] if t.get("tactics")]
    for tactic, pattern in CUES.items():
        cued = [t for t in turns if re.search(pattern, t["text"])]
        out[tactic] = round(sum(tactic in t["tactics"] for t in cued) / len(cued), 4) if cued else None
    return out


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
