"""How a dialogue reads: role-neutral speaker labels, ASR style, disclaimer talk, tactic cue coverage.

The measures behind the corpus v2 requirements (analyzer.corpus.stats) and the writers' per-file summary
(`python -m analyzer.corpus.validate --summary FILE`); standard library only, so the validator stays light.
"""
from __future__ import annotations

import re

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
