"""Input normalisation shared by training and every runtime: each evasion folds back to the plain text."""
import pytest

from analyzer.normalize import normalize_text

PLAIN = "请把验证码123456报给我，我是京东客服"


@pytest.mark.parametrize("evasion", [
    "请 把 验 证 码 1 2 3 4 5 6 报 给 我 ， 我 是 京 东 客 服",                       # spaced characters (ASR)
    "请把\u200b验证\u200c码123456报给我，我是京\u200d东客服\ufeff",                 # zero-width characters
    "请把验证码\u3000123456\u3000报给我，我是京东客服",                              # ideographic spaces
    "请把验证码１２３４５６报给我，我是京东客服",                                     # full-width digits
    "请把验证码 123 456 报给我，我是京东客服",                                        # digit groups
])
def test_evasions_fold_to_the_plain_text(evasion):
    assert normalize_text(evasion) == normalize_text(PLAIN)


def test_latin_words_keep_their_spaces():
    assert normalize_text("open  the   app 腾讯 会议") == "open the app 腾讯会议"


def test_idempotent():
    text = "喂 你好 是 王 先生吗 ？ 我 这边 是 顺丰"
    assert normalize_text(normalize_text(text)) == normalize_text(text)
