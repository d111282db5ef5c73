"""Style augmentation for training: the registers the written corpus lacks (ASR output, no punctuation, digits
read out, homophone slips, fillers), so that the tagger learns tactics rather than the writers' layout.

Labels do not change: every edit keeps what the speaker does in the turn.
"""
from __future__ import annotations

import random
import re

_PUNCT = re.compile(r"[，。！？、；：“”‘’（）《》【】…—,.!?;:\"'()\[\]~～·]+")
_DIGITS = {"0": "零", "1": "幺", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八", "9": "九"}
# Slips an ASR engine makes on words that matter here (homophones or near-homophones).
HOMOPHONES = {
    "银行": "引行", "验证码": "演证码", "转账": "转帐", "支付宝": "支付包", "账户": "帐户", "警官": "经官",
    "公安局": "公安居", "保证金": "保正金", "屏幕": "平幕", "共享": "共想", "下载": "下再", "贷款": "代款",
    "征信": "正信", "冻结": "动结", "赔偿": "陪偿", "退款": "退宽", "客服": "客福", "密码": "密马",
    "会议": "会意", "链接": "连接", "身份证": "身分证", "理赔": "理陪", "注销": "注消", "额度": "额渡",
    "快递": "快地", "淘宝": "陶宝", "微信": "威信", "二维码": "二维马", "扣费": "扣非", "利息": "利习",
}
FILLERS = ("嗯", "呃", "那个", "就是", "啊", "喂", "这个")


def strip_punctuation(text: str) -> str:
    return _PUNCT.sub(" ", text).strip()


def read_digits(text: str) -> str:
    return "".join(_DIGITS.get(ch, ch) for ch in text)


def slip(text: str, rng: random.Random, rate: float = 0.4) -> str:
    for word, wrong in HOMOPHONES.items():
        if word in text and rng.random() < rate:
            text = text.replace(word, wrong)
    return text


def asr_style(text: str, rng: random.Random) -> str:
    """One turn as an ASR engine might write it."""
    text = slip(strip_punctuation(text), rng)
    if rng.random() < 0.5:
        text = read_digits(text)
    if rng.random() < 0.3:
        text = rng.choice(FILLERS) + " " + text
    return text or "嗯"


def augment_dialogue(dialogue: dict, rng: random.Random, asr_share: float = 0.4,
                     no_punct_share: float = 0.15) -> dict:
    """A restyled copy of a gold dialogue (or the dialogue itself): ASR-like, punctuation stripped, or as written."""
    draw = rng.random()
    if draw < asr_share:
        edit = lambda text: asr_style(text, rng)  # noqa: E731
    elif draw < asr_share + no_punct_share:
        edit = lambda text: strip_punctuation(text) or text  # noqa: E731
    else:
        return dialogue
    return {**dialogue, "turns": [{**t, "text": edit(t["text"])} for t in dialogue["turns"]]}
