"""Text normalisation shared by training and every runtime, so that evasions and ASR layout do not change a score.

NFKC folds full-width forms and compatibility characters; format characters (zero-width spaces and joiners, BOM,
bidi marks) are removed; spaces between CJK characters or inside a digit run are collapsed (ASR engines and
evaders space characters out); other runs of white space become one space.
"""
from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_PUNCT = r"""!"'(),.:;?\[\]~…—“”‘’"""
# between two CJK characters, or a CJK character and punctuation (NFKC turns "，" into ","), spaces go
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}{_PUNCT}])|(?<=[{_PUNCT}])\s+(?=[{_CJK}])")
_SPACE_IN_DIGITS = re.compile(r"(?<=\d)[ \t\u00a0]+(?=\d)")
_SPACE_CJK_DIGIT = re.compile(rf"(?<=[{_CJK}])\s+(?=\d)|(?<=\d)\s+(?=[{_CJK}])")
_WHITE = re.compile(r"\s+")


def _drop_format_chars(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalize_text(text: str) -> str:
    """The form every backend and the training data see."""
    text = unicodedata.normalize("NFKC", _drop_format_chars(text))
    text = _WHITE.sub(" ", text).strip()
    for pattern in (_SPACE_BETWEEN_CJK, _SPACE_IN_DIGITS, _SPACE_CJK_DIGIT):
        text = pattern.sub("", text)
    return text
