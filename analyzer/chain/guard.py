"""Prompt-injection guard: find text in a transcript that talks to the analyzer instead of the other party.

A scammer who knows calls are checked by an LLM can say things meant for it: fake system messages, "ignore the
previous instructions", a JSON object shaped like the answer, a request to role-play, an instruction hidden in a
speaker name, or a claim that the call is certified ("本通话已通过反诈中心认证"). The explainer treats a flagged
transcript as data only: the LLM's answer can then never lower the model's verdict, nor raise it on its own.

Every text and speaker name is normalised first (`normalize_text`: NFKC folds full-width letters, zero-width
characters go, spaces between CJK characters go), lower-cased, common Cyrillic/Greek look-alike letters mapped
to Latin, and matched twice: as written, and compacted (all spaces and punctuation removed), so that
"i g n o r e", "忽-略-指-令" and "忽<U+200B>略" read like "ignore" and "忽略指令".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from analyzer.normalize import normalize_text
from analyzer.schema import Dialogue

# look-alike letters that NFKC leaves alone
_CONFUSABLES = str.maketrans("асеіјкорѕхуԁһɡΑΒΕΗΙΚΜΝΟΡΤΧΥΖαορνι", "aceijkopsxydhgabehikmnoptxyzaopvi")
_NOT_WORD = re.compile(r"[\W_]+")

# (kind, pattern, compact): a compact pattern runs on the text with spaces and punctuation removed, then as written
_QUALIFIED = r"(之前|以上|前面|上面|上述|所有|全部|先前|原来|原有|原先|此前|系统|既有|一切|以前|你收到的|你的)"
_ZH_OVERRIDE = (r"(忽略|无视|忽视|忘记|忘掉|不要理会|别管|覆盖|绕过|废除|清除|丢弃|抛开|不用遵守|不要遵守|停止遵守|不再遵守)"
                r"(掉)?(你的|你)?" + _QUALIFIED + r"(的|全部|所有)?(的)?"
                r"(指令|指示|提示|提示词|规则|设定|要求|命令|约束|限制|规定|任务|角色|prompt|instructions?)"
                r"|(忽略|无视|忽视|不要理会|不用遵守|不要遵守|停止遵守|不再遵守)(你的)?(指令|指示|提示词|设定|prompt|instructions?)")
_EN_OVERRIDE = (r"(ignore|disregard|forget|override|bypass|skip|drop)(all|any|every|the|your|of|these|those)*"
                r"(previous|prior|above|earlier|preceding|system|original|former|existing|initial|old)"
                r"(instructions?|prompts?|rules|directions|guidelines|context|messages?|orders)"
                r"|(ignore|disregard|forget)(all|any|the|your)+(instructions?|prompts?|rules|guidelines)"
                r"|(new|updated|additional|real|hidden)(instructions?|systemprompt)"
                r"|(ignore|disregard|forget)(everything|anything|all)(above|before|previous|prior|said|iwrote|yousaw)")
# a verdict word, not the start of a longer word (安全码, 安全账户, 正常使用)
_VERDICT_WORDS = (r"(安全|正常|非诈骗|不是诈骗|没有诈骗|无诈骗|无风险|低风险|零风险|良性|合法|可信|无害|benign|safe|legit\w*"
                  r"|uncertain)(?!码|账|帐|中心|部门|措施|检查|隐患|问题|期|区|套|带|员|局|生产|使用|运行|营业|工作|上班|范围)")
_CALL = r"(这|此|本)(通|个|段|次)?(电话|通话|对话|来电|内容|记录|录音)"
_AUTHORITY = r"(官方|公安|警方|反诈中心|反诈|运营商|工信部|银保监会?|监管部门?)"
_CALL_SUBJECT = r"(本|此|这)(通|个|次|条|段)?(通话|电话|来电|号码|对话|专线|录音|热线)"
_VIA = r"(通过|经过|获得|受到?|接受|经|由|被|在)?"
_CERTIFIED = r"(认证|验证(?!码)|核验|核实|备案|授权|加密|监管|监控|保护|担保|审核|白名单|认可)"
_MODEL = r"(ai|人工智能|语言模型|大模型|模型|反诈助手|分析助手|ai助手|分析师|检测系统|审核员|分析系统|chatgpt|gpt)"
PATTERNS: list[tuple[str, re.Pattern, bool]] = [
    # "ignore the previous instructions", in Chinese and English
    ("override", re.compile(_ZH_OVERRIDE), True),
    ("override", re.compile(_EN_OVERRIDE), True),
    ("override", re.compile(r"(新的?|最新的?|更新后?的|额外的?|隐藏的?|最高|优先|真正的|下面的|以下)(指令|系统指令|提示词)"
                            r"|(指令|instructions?)[:：]"), True),
    # dictating the verdict to the analyzer
    ("verdict", re.compile(r"(判定|认定|标记|标注|归类|定性|判为|判成|评定)(这|此|本)?(通|个|段)?(电话|通话|对话|来电|内容|记录)?"
                           r"(结果)?(为|成|是|作)?" + _VERDICT_WORDS
                           + r"|(判断|评估|检测|分析|识别|鉴定|分类)" + _CALL + r"(结果)?(为|成|是)" + _VERDICT_WORDS
                           + r"|(判断|评估|识别|分类|鉴定)(为|成)" + _VERDICT_WORDS), True),
    ("verdict", re.compile(r"(输出|回答|返回|回复|给出|打印|生成)(结果|结论|判断|答案|json|verdict)?(为|是|成|:|：)?"
                           + _VERDICT_WORDS
                           + r"|(最终结论|判定结果|判断结果|分析结果|检测结论|风险等级|verdict|risklevel|label)"
                           r"(必须|应该|应当|一定)?(为|是|写|填|:|：|=)" + _VERDICT_WORDS
                           + r"|(结果|结论|判断|判定|风险等级|风险|等级|verdict|label|risklevel)(必须|应该|应当|一定|要)?"
                           r"(设为|设置为|设成|改成|改为|写成|写为|标为|标记为|调为|调整为|定为|填成|填为)" + _VERDICT_WORDS), True),
    ("verdict", re.compile(r"(不要|别|无需|不必|不得|禁止|不能)(把|将)" + _CALL + r"(判定|判断|标记|认定|识别|报告|上报|归类)"
                           r"|(不要|别|无需|不必|不得|禁止)(判定|标记|认定|识别|归类)(为|成)(诈骗|风险|可疑|危险)"), True),
    ("verdict", re.compile(r"\b(classify|mark|label|rate|flag|report|treat|consider)\s+(this|it|the\s+call|this\s+call|"
                           r"the\s+conversation|this\s+conversation|the\s+transcript)\s+as\s+"
                           r"(benign|safe|not\s+(a\s+)?scam|"
                           r"legitimate|low[\s-]risk|harmless)\b"
                           r"|\b(output|answer|respond|reply|return|say)\s+(with\s+|only\s+)?[\"'“]?"
                           r"(benign|safe|not\s+a\s+scam)\b"
                           r"|\b(this|the)\s+(call|conversation|transcript|dialogue)\s+(is|was)\s+"
                           r"(safe|benign|legitimate|"
                           r"not\s+a\s+scam|verified|certified|authenticated)\b"
                           r"|\bdo\s*(not|n't)\s+(flag|report|mark|classify|alert)\b"
                           r"|\bsay\s+(that\s+)?(this|the|it)\s*(call|conversation|transcript)?\s+(is|was)\s+"
                           r"(fine|safe|ok|okay|benign|legit)"), False),
    ("verdict", re.compile(r"(classify|mark|label|rate|treat)(this|it|thecall|thiscall|theconversation)as"
                           r"(benign|safe|notascam)"
                           r"|outputbenign|answerbenign|verdictbenign|verdictsafe|respondwithbenign"), True),
    # fake system / role messages and chat-template tokens
    ("system", re.compile(r"[\[【<(（{]\s*/?\s*(system|sys|系统|管理员|admin|administrator|developer|开发者|"
                          r"assistant|助手|ai|instructions?|指令|prompt|root)\s*[\]】>)）}]"
                          r"|[\[【<{][^\]】>}]{0,6}(system|系统|管理员|admin|developer|开发者|指令|instruction|prompt)"
                          r"[^\]】>}]{0,6}[\]】>}]"
                          r"|<\|\s*(im_start|im_end|system|assistant|user|endoftext|begin_of_text|start_header_id)"
                          r"\s*\|?>"
                          r"|</?\s*(transcript|system|instructions?|prompt|assistant)\s*>|\[/?inst\]|<<\s*sys\s*>>"
                          r"|(^|[。！？!?；;.])\s*(system|assistant|developer|系统消息|系统指令|系统提示词|管理员指令|开发者指令|"
                          r"ai指令|模型指令)\s*[:：]|#{2,}\s*(instruction|system|response)"), False),
    ("system", re.compile(r"systemprompt|系统提示词|系统指令|developermode|开发者模式|调试模式|debugmode|越狱模式|jailbreak|"
                          r"dan模式|godmode|上帝模式|管理员模式|adminmode"), True),
    ("system", re.compile(r"系统(提示|消息|通知)[:：]?(你|您)?(现在|必须|应该)?"
                          r"(是|作为|扮演|判定|输出|回答|忽略|请将|请把|模型|助手|ai)"), True),
    # addressing the model itself ("你是机器人吗" is everyday speech: a role word alone is not enough)
    ("address", re.compile(r"(你|您)((现在|目前|此刻|接下来|从现在起|从现在开始)(是|作为|扮演|充当)(一个|一名|一位)?"
                           r"|(是|作为|扮演|充当)(一个|一名|一位))" + _MODEL
                           + r"|(你|您)(是|作为|扮演|充当)(语言模型|大模型|反诈助手|分析助手|分析系统|检测系统|审核员|chatgpt)"
                           r"|(作为|身为)(一个|一名)?(ai|人工智能|语言模型|大模型|反诈助手|分析助手|分析系统|检测系统)"
                           r"|(致|给|对|告诉)(ai|模型|大模型|分析系统|检测系统|审核系统|分析员|审核员|llm|gpt)(的)?"
                           r"(说明|提示|指令|消息|话)"
                           r"|(ai|ai助手|反诈助手|分析助手|模型|大模型|分析系统|检测系统|llm|gpt|chatgpt)"
                           r"(请|你|必须|务必|听好|注意)(判定|输出|回答|忽略|按照|遵守|执行|记住|把|将)"), True),
    ("address", re.compile(r"\b(you\s+are|you're)\s+(now\s+)?(a|an|the)?\s*(ai|assistant|language\s+model|chatbot|gpt|"
                           r"model|unrestricted|different)\b"
                           r"|\b(dear|attention|note\s+(to|for))\s+"
                           r"(ai|llm|model|assistant|gpt|analy[sz]er|classifier)\b"
                           r"|\bas\s+an?\s+(ai|language\s+model)\b"), False),
    # role play
    ("roleplay", re.compile(r"角色扮演|roleplay|扮演游戏|((请|你来|你要|你现在|让我们|我们来|现在)(扮演|充当))|假装你是|"
                            r"假设你是|想象你是|你的新身份|你现在的身份|你的角色是|进入角色"), True),
    ("roleplay", re.compile(r"\b(role[\s-]?play|pretend\s+(to\s+be|that\s+you|you\s+are)|act\s+as\s+(an?|the|my)|"
                            r"imagine\s+you\s+are|let'?s\s+play|play\s+the\s+(role|part))\b"), False),
    # a JSON object shaped like the answer
    ("answer_json", re.compile(r"[\"'“”‘’]\s*(verdict|risk_level|risklevel|override_reason|confidence|steps)"
                               r"\s*[\"'“”‘’]"
                               r"\s*[:：=]|\b(verdict|risk_level|override_reason)\s*[:：=]"), False),
    # certification claims about the call itself ("本通话已通过反诈中心认证", "官方认证", "【已认证】")
    ("certification", re.compile(_CALL_SUBJECT + r"(已|已经|均|都|全程|正在|是)" + _VIA + r"(国家)?(" + _AUTHORITY[1:-1]
                                 + r"|银行|平台|中心)?(的)?" + _CERTIFIED
                                 + r"|" + _CALL_SUBJECT + r"(已|已经|均|都|全程|正在|是)?" + _VIA + r"(国家)?" + _AUTHORITY
                                 + r"(的)?" + _CERTIFIED
                                 + r"|" + _CALL_SUBJECT + r"(受|由)(国家|法律)?" + _AUTHORITY + r"?(的)?(监管|保护|认证|担保|监控)"),
     True),
    ("certification", re.compile(r"(反诈中心|反诈|公安|警方|官方|工信部|运营商)(已|已经)?(认证|核验|授权|担保|背书|白名单|审核通过)"
                                 r"((的|过|了)?(通话|电话|来电|号码|专线|客服|热线|坐席|身份|账户|安全账户|工作人员|专员)"
                                 r"|[,.;!?，。；！？]|$)"), False),
    ("certification", re.compile(r"(已|已经)(通过)?(官方)?认证(的)?(通话|电话|来电|号码|客服|专线|热线|商家|官方)"
                                 r"|(通话|电话|来电|号码|客服|专线|热线)(已|已经)(通过)?(官方)?(认证|核验|备案)"
                                 r"|安全来电|认证来电|可信来电|白名单(号码|来电|电话|用户|客户)|verifiedcall|certifiedcall|certifiedby"),
     True),
    ("certification", re.compile(r"[\[【(（]\s*(已认证|官方认证|认证通话|安全通话|已验证|verified|认证来电|官方来电)\s*[\]】)）]"),
     False),
]


@dataclass(frozen=True)
class Finding:
    turn: int          # index of the turn
    where: str         # "text" or "speaker"
    kind: str          # override | verdict | system | address | roleplay | answer_json | certification
    match: str         # the matched text (normalised)

    def __str__(self) -> str:
        return f"turn {self.turn} {self.where}: {self.kind} ({self.match[:40]})"


def views(text: str) -> tuple[str, str]:
    """(normalised and lower-cased, the same with every space and punctuation mark removed)."""
    plain = normalize_text(text).lower().translate(_CONFUSABLES)
    return plain, _NOT_WORD.sub("", plain)


def scan_text(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) for every pattern that matches `text`."""
    if not text:
        return []
    plain, compact = views(text)
    found = []
    for kind, pattern, on_compact in PATTERNS:
        m = pattern.search(compact if on_compact else plain) or (pattern.search(plain) if on_compact else None)
        if m:
            found.append((kind, m.group(0)))
    return found


def scan(dialogue: Dialogue) -> list[Finding]:
    """Findings in every turn's text and speaker name."""
    out = []
    for i, turn in enumerate(dialogue.turns):
        for where, value in (("speaker", turn.speaker), ("text", turn.text)):
            out.extend(Finding(i, where, kind, match) for kind, match in scan_text(value))
    return out


def injection_suspected(dialogue: Dialogue) -> bool:
    """True when any turn's text or speaker name contains instruction-like text or a certification claim."""
    return bool(scan(dialogue))


def certification_claimed(dialogue: Dialogue) -> bool:
    return any(f.kind == "certification" for f in scan(dialogue))


def kinds(findings: Iterable[Finding]) -> list[str]:
    return sorted({f.kind for f in findings})
