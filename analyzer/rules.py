"""The keyword analyzer: an anti-fraud phrase lexicon. A baseline that works with nothing but the standard library.

Each tactic has a few regular expressions; a turn gets a tactic when one matches. The dialogue's risk grows with
the distinct tactics seen so far, weighted by how close each is to harm, and drops for phrases that genuine
services use to warn people ("任何人索要验证码都不要给").
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from analyzer.taxonomy import HARM_TACTICS, TACTIC_IDS

LEXICON: dict[str, tuple[str, ...]] = {
    "impersonation": (r"我是.{0,8}(客服|专员|警官|民警|警察|检察|法院|经理|工作人员|领导|老板|王总|李总)",
                      r"(这里是|我们是).{0,10}(公安|检察院|法院|银行|支付宝|微信|京东|淘宝|拼多多|快递|顺丰|医保|客服中心)",
                      r"工号|警号|猜猜我是谁|我是你(的)?(表|堂)?(哥|姐|弟|妹|舅|叔|侄)"),
    "info_leverage": (r"(订单|快递单|运单)(号|尾号).{0,4}\d", r"您(在|于).{0,10}(购买|买了|下单)", r"身份证(号)?(尾号|后四位)是",
                      r"您是.{1,4}(先生|女士)吧", r"您的地址是"),
    "pretext": (r"荧光剂|甲醛超标|质量问题|召回|包裹(丢|遗失|破损)|丢件|账户(异常|存在风险|被冻结)|涉嫌|洗钱|"
                r"校园贷|学生贷|借贷关系|百万保障|自动续费|会员.{0,4}扣费|征信.{0,4}(异常|修复)|违禁品|出车祸|被(抓|拘留)",),
    "lure": (r"(双倍|两倍|三倍|3倍|2倍)赔偿|理赔|返利|返现|佣金|中奖|奖金|高收益|稳赚|内部消息|退款给您|补偿您",),
    "urgency": (r"马上|立刻|立即|赶紧|尽快处理|今天之内|今天(下午|晚上)?.{0,3}(前|之前)|逾期|名额有限|最后.{0,2}(天|次|机会)|"
                r"(不要|别)挂(断)?电话",),
    "threat": (r"违约金|影响(您的?)?征信|上征信|冻结|逮捕|通缉|拘留|坐牢|判刑|每(个)?月.{0,6}扣|法律责任|起诉|就没命",),
    "isolation": (r"保密|不能告诉|不要告诉|别告诉|第二个人|旁边.{0,3}(有人|没人)|一个人(在|去)|安静.{0,4}(地方|房间)|"
                  r"(不要|别)(挂|挂断)电话|加.{0,4}(QQ|微信|企业微信|私人)",),
    "guided_operation": (r"下载.{0,8}(APP|app|App|软件|会议)|腾讯会议|钉钉|Zoom|zoom|共享屏幕|屏幕共享|点击.{0,6}链接|"
                         r"扫(一下|描)?.{0,4}(二维码|码)|打开.{0,6}(支付宝|微信|手机银行|设置)|会议号",),
    "fake_insurance": (r"保证金|验资|解冻费|银行卡保险|信用担保|待生效|资金监管|激活.{0,4}保险",),
    "sensitive_info": (r"(报|告诉|提供|念|说|发).{0,8}(验证码|密码|卡号|身份证号|CVV|安全码)|"
                       r"(验证码|密码|卡号|身份证号).{0,6}(报|告诉|提供|发|念)(给)?我",),
    "transfer": (r"转(账|到|入)|汇款|安全账户|打款|充值|借呗|微粒贷|金条|网贷|贷款.{0,6}(出来|转)|找.{0,4}(朋友|亲戚)借",),
}
WARNING_PHRASES = re.compile(r"(不要|别|切勿|不会)(向任何人|给任何人|告诉任何人|索要)|都是诈骗|反诈(中心|App|APP)|96110|官方(App|APP|客服电话)")
HARM_WEIGHTS = {"impersonation": 0.6, "info_leverage": 0.4, "pretext": 0.7, "lure": 0.7, "urgency": 0.4, "threat": 0.8,
                "isolation": 1.2, "guided_operation": 1.0, "fake_insurance": 1.5, "sensitive_info": 1.3, "transfer": 1.4}
COMPILED = {tactic: [re.compile(p) for p in patterns] for tactic, patterns in LEXICON.items()}
assert set(COMPILED) == set(TACTIC_IDS)


# A scammer claiming the call is certified ("本通话已通过反诈中心认证") is not a genuine warning.
CLAIMED_CERTIFICATION = re.compile(r"(已|通过|经过|经).{0,10}认证|官方认证|认证(通过|过)")


def genuine_warning(text: str, matched: dict[str, float]) -> bool:
    """A warning phrase from a genuine service: no certification claim and no request for a code or money."""
    return bool(WARNING_PHRASES.search(text)) and not CLAIMED_CERTIFICATION.search(text) \
        and not any(matched[t] for t in HARM_TACTICS)


def tag_turn(text: str) -> dict[str, float]:
    """1.0 for each tactic whose lexicon matches, 0.0 otherwise; warnings from genuine services match nothing."""
    matched = {t: float(any(p.search(text) for p in COMPILED[t])) for t in TACTIC_IDS}
    return {t: 0.0 for t in TACTIC_IDS} if genuine_warning(text, matched) else matched


@dataclass
class RuleState:
    seen: set = field(default_factory=set)
    warnings: int = 0


def step(state: RuleState, text: str) -> tuple[dict[str, float], float]:
    """Tag one turn and return the dialogue's risk so far."""
    tactics = tag_turn(text)
    state.seen |= {t for t, p in tactics.items() if p > 0}
    state.warnings += not any(tactics.values()) and bool(WARNING_PHRASES.search(text)) \
        and not CLAIMED_CERTIFICATION.search(text)
    score = sum(HARM_WEIGHTS[t] for t in state.seen) - 1.5 - 0.8 * state.warnings
    return tactics, 1.0 / (1.0 + math.exp(-score))
