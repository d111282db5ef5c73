"""Mask personal data before text leaves the machine, with stable placeholders restored in what the user sees.

Phone numbers, ID numbers, bank-card numbers, verification codes, addresses and known names (speaker names and
names the caller recites) become [PHONE_1], [ID_1], [CARD_1], [CODE_1], [ADDR_1], [NAME_1] — the same value always
gets the same placeholder within one dialogue.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

PATTERNS: list[tuple[str, re.Pattern]] = [
    ("ID", re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")),
    ("CARD", re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")),
    ("PHONE", re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")),
    ("CODE", re.compile(r"(?:验证码|校验码|动态码|密码|取件码|口令)\D{0,6}?(\d{4,8})(?!\d)")),
    ("ADDR", re.compile(r"[\u4e00-\u9fa5]{2,8}(?:省|市)[\u4e00-\u9fa5]{1,8}(?:区|县|市)[\u4e00-\u9fa5\d]{1,16}(?:路|街|道|巷|村|小区|号|栋|室)"
                        r"(?:[\u4e00-\u9fa5\d]{0,10}(?:号|栋|室|单元))?")),
]
NAME_CUES = re.compile(r"(?:我是|我叫|是不是|请问是|您是)([\u4e00-\u9fa5]{2,3})(?=先生|女士|同学|阿姨|吗|吧|啊|，|,|。|$)"
                       r"|([\u4e00-\u9fa5]{2,3})(?=先生|女士)")
GENERIC_SPEAKERS = {"客服", "用户", "来电", "接听", "本人", "对方", "坐席", "客户", "警官", "我", "甲", "乙", "未知"}


@dataclass
class Masker:
    names: set[str] = field(default_factory=set)
    forward: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def _placeholder(self, kind: str, value: str) -> str:
        if value not in self.forward:
            self.counters[kind] = self.counters.get(kind, 0) + 1
            self.forward[value] = f"[{kind}_{self.counters[kind]}]"
        return self.forward[value]

    def learn_names(self, speakers: list[str], texts: list[str]) -> None:
        for s in speakers:
            s = s.strip()
            if s and s not in GENERIC_SPEAKERS and not re.fullmatch(r"[A-Za-z]|\d+", s):
                self.names.add(s)
        for text in texts:
            for m in NAME_CUES.finditer(text):
                name = m.group(1) or m.group(2)
                if name and not re.search(r"(客服|银行|公司|警官|专员|经理|工作人员|哪位|什么|谁)", name):
                    self.names.add(name)

    def mask(self, text: str) -> str:
        for kind, pattern in PATTERNS:
            def repl(m, kind=kind):
                if m.groups():
                    value = m.group(1)
                    return m.group(0).replace(value, self._placeholder(kind, value))
                return self._placeholder(kind, m.group(0))
            text = pattern.sub(repl, text)
        for name in sorted(self.names, key=len, reverse=True):
            if name in text:
                text = text.replace(name, self._placeholder("NAME", name))
        return text

    def unmask(self, text: str) -> str:
        for value, placeholder in sorted(self.forward.items(), key=lambda kv: -len(kv[1])):
            text = text.replace(placeholder, value)
        return text

    @property
    def secrets(self) -> list[str]:
        return list(self.forward)
