"""Seeded perturbations of transcripts for robustness: homophones, ASR errors, traditional characters, spacing
inside keywords, anonymised (A/B) speakers, stripped punctuation, spaced characters, zero-width characters, calls cut
short."""
from __future__ import annotations

import copy
import random
import re

# near-sound substitutions that ASR systems and evasive scammers produce
HOMOPHONES = {"验证码": ["验正码", "研证码", "yan证码"], "银行卡": ["引行卡", "银航卡", "yin行卡"], "转账": ["转帐", "专账"],
              "支付宝": ["支附宝", "zfb", "支F宝"], "客服": ["克服", "客F"], "贷款": ["带款", "贷宽"], "共享屏幕": ["共想屏幕", "共享平幕"],
              "安全账户": ["安全帐户", "按全账户"], "保证金": ["保正金", "包证金"], "警官": ["井官", "警관"], "赔偿": ["陪偿", "赔尝"],
              "冻结": ["动结", "冻洁"], "征信": ["政信", "争信"], "密码": ["蜜码", "秘码"], "会议": ["会意", "汇议"]}
ASR_CONFUSIONS = {"是": "事", "在": "再", "的": "得", "他": "她", "做": "作", "马": "吗", "已": "以", "账": "帐", "哪": "那",
                  "您": "你", "吧": "把", "带": "代", "钱": "前", "款": "宽", "户": "护"}
TRADITIONAL = str.maketrans({"说": "說", "话": "話", "银": "銀", "行": "行", "证": "證", "码": "碼", "转": "轉", "账": "賬",
                             "务": "務", "号": "號", "们": "們", "这": "這", "个": "個", "为": "為", "会": "會", "险": "險",
                             "钱": "錢", "贷": "貸", "款": "款", "请": "請", "时": "時", "应": "應", "对": "對", "开": "開",
                             "关": "關", "费": "費", "问": "問", "题": "題", "电": "電", "还": "還", "没": "沒", "给": "給",
                             "发": "發", "买": "買", "卖": "賣", "单": "單", "赔": "賠", "偿": "償", "认": "認", "门": "門",
                             "冻": "凍", "结": "結", "户": "戶", "宝": "寶", "财": "財", "资": "資", "险": "險", "警": "警",
                             "习": "習", "经": "經", "东": "東", "现": "現", "让": "讓", "动": "動", "级": "級"})
KEYWORDS = sorted(HOMOPHONES, key=len, reverse=True)


def _map_texts(dialogue: dict, fn) -> dict:
    out = copy.deepcopy(dialogue)
    for turn in out["turns"]:
        turn["text"] = fn(turn["text"])
    return out


def homophones(dialogue: dict, rng: random.Random) -> dict:
    def swap(text):
        for word in KEYWORDS:
            if word in text:
                text = text.replace(word, rng.choice(HOMOPHONES[word]))
        return text
    return _map_texts(dialogue, swap)


def asr_errors(dialogue: dict, rng: random.Random, rate: float = 0.08) -> dict:
    def corrupt(text):
        chars = list(text)
        for i, ch in enumerate(chars):
            if rng.random() < rate:
                if ch in ASR_CONFUSIONS:
                    chars[i] = ASR_CONFUSIONS[ch]
                elif rng.random() < 0.3 and ch not in "，。？！":
                    chars[i] = ""  # dropped character
        return "".join(chars) or text
    return _map_texts(dialogue, corrupt)


def traditional(dialogue: dict, rng: random.Random) -> dict:
    return _map_texts(dialogue, lambda text: text.translate(TRADITIONAL))


def spaced_keywords(dialogue: dict, rng: random.Random) -> dict:
    def space(text):
        for word in KEYWORDS:
            if word in text:
                text = text.replace(word, rng.choice([" ", "·", "*", "-"]).join(word))
        return text
    return _map_texts(dialogue, space)


def renamed_speakers(dialogue: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(dialogue)
    names = {}
    for turn in out["turns"]:
        names.setdefault(turn["speaker"], "AB"[len(names)] if len(names) < 2 else f"S{len(names)}")
        turn["speaker"] = names[turn["speaker"]]
    return out


def no_punctuation(dialogue: dict, rng: random.Random) -> dict:
    """ASR output without punctuation."""
    return _map_texts(dialogue, lambda text: re.sub(r"[，。！？、；：,.!?;:“”\"'（）()…]+", " ", text).strip() or text)


def spaced_chars(dialogue: dict, rng: random.Random) -> dict:
    """Every character spaced out, as some ASR engines (and evaders) write it."""
    return _map_texts(dialogue, lambda text: " ".join(text))


def zero_width(dialogue: dict, rng: random.Random) -> dict:
    """Zero-width spaces between characters of every keyword (and a few elsewhere)."""
    def hide(text):
        for word in KEYWORDS:
            text = text.replace(word, "\u200b".join(word))
        return "".join(ch + ("\u200b" if rng.random() < 0.1 else "") for ch in text)
    return _map_texts(dialogue, hide)


def cut_short(dialogue: dict, rng: random.Random) -> dict:
    out = copy.deepcopy(dialogue)
    keep = max(1, len(out["turns"]) // 2)
    out["turns"] = out["turns"][:keep]
    return out


PERTURBATIONS = {"homophones": homophones, "asr_errors": asr_errors, "traditional": traditional,
                 "spaced_keywords": spaced_keywords, "renamed_speakers": renamed_speakers, "no_punctuation": no_punctuation,
                 "spaced_chars": spaced_chars, "zero_width": zero_width, "cut_short": cut_short}


def perturb(dialogues: list[dict], name: str, seed: int) -> list[dict]:
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}")
    fn = PERTURBATIONS[name]
    rng = random.Random(f"{name}-{seed}")
    return [fn(d, rng) for d in dialogues]


assert not re.search(r"\s", "".join(KEYWORDS))
