"""The offline explainer (`--llm none`): writes the explanation structure in Chinese from the tagger's findings.

It is clearly labelled as not written by an LLM (`written_by_llm: false`, status "grounded"). Quotes are verbatim
clauses of the cited turns, chosen where the tactic's keywords appear when they do.
"""
from __future__ import annotations

import re

from analyzer import rules
from analyzer.chain.schema import Explanation, Step
from analyzer.decision import verdict_of
from analyzer.schema import Dialogue, Prediction
from analyzer.taxonomy import TACTIC_BY_ID, WHY_ZH

CLAUSE = re.compile(r"[^，。！？；,.!?;\n]+[，。！？；,.!?;]?")
ADVICE = {
    "danger": ["立即挂断电话，不要按对方的要求下载软件、共享屏幕或点击链接。",
               "不要透露银行卡号、验证码和密码，不要转账、贷款或向亲友借钱。",
               "自己拨打官方客服电话核实（银行卡背面、官方App内的号码），不要回拨对方提供的号码。",
               "如已转账或泄露信息，马上拨打110或96110报警，并联系银行冻结账户。"],
    "caution": ["先不要按对方的要求操作，挂断后通过官方App或官方客服电话核实。",
                "任何索要验证码、要求共享屏幕或转账的来电都要高度警惕；拿不准可拨打96110咨询。"],
    "safe": ["暂未发现明显的诈骗手法。",
             "仍请记住：正规机构不会索要验证码，也不会要求转账到“安全账户”。"],
    "insufficient": ["通话内容还太少，暂时无法判断。",
                     "继续通话时留意：对方若索要验证码、要求共享屏幕或转账，请立即挂断并核实。"],
}


def best_clause(text: str, tactic: str) -> str:
    """A verbatim clause of `text`: the first one the tactic's lexicon matches, else the longest (at most 60 chars)."""
    clauses = [c.strip() for c in CLAUSE.findall(text) if c.strip()] or [text.strip()]
    for clause in clauses:
        if any(p.search(clause) for p in rules.COMPILED[tactic]):
            return clause[:80]
    return max(clauses, key=lambda c: min(len(c), 60))[:80]


def model_verdict(prediction: Prediction) -> str:
    return verdict_of(prediction.is_scam, prediction.risk_level)


def steps_from_prediction(dialogue: Dialogue, prediction: Prediction, max_steps: int = 12) -> list[Step]:
    """One step for the first turn of each tactic, plus every later harm turn (codes, transfers), in turn order."""
    from analyzer.taxonomy import HARM_TACTICS

    steps, seen = [], set()
    for turn_pred in prediction.turns:
        turn = dialogue.turns[turn_pred.index]
        for tactic in sorted(turn_pred.predicted, key=lambda t: -turn_pred.tactics.get(t, 0.0)):
            if tactic in seen and tactic not in HARM_TACTICS:
                continue
            seen.add(tactic)
            steps.append(Step(turns=[turn_pred.index], tactic=tactic, quote=best_clause(turn.text, tactic),
                              reasoning=f"第{turn_pred.index + 1}轮「{turn.speaker}」：{TACTIC_BY_ID[tactic].zh}——"
                                        f"{WHY_ZH[tactic]}（模型概率 {turn_pred.tactics.get(tactic, 0.0):.2f}）"))
    return steps[:max_steps]


def grounded_explanation(dialogue: Dialogue, prediction: Prediction, status: str = "grounded",
                         detail: str | None = None, backend: str = "none") -> Explanation:
    verdict = model_verdict(prediction)
    return Explanation(id=dialogue.id, verdict=verdict, risk_level=prediction.risk_level,
                       steps=steps_from_prediction(dialogue, prediction),
                       advice=ADVICE[prediction.risk_level],
                       confidence=round(max(prediction.scam_probability, 1 - prediction.scam_probability), 3),
                       model_probability=prediction.scam_probability, model_verdict=verdict, backend=backend,
                       written_by_llm=False, status=status, status_detail=detail)
