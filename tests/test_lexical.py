"""The lexical tactic channel: the numpy inference equals scikit-learn's pipeline, and it survives save/load."""
import numpy as np
import pytest

from analyzer.model.lexical import LexicalTactics, char_ngrams, mix

sklearn = pytest.importorskip("sklearn")
from analyzer.training.lexical_fit import choose_weight, fit_lexical  # noqa: E402

TEXTS = ["您好，我是京东客服，您的订单有问题", "请把验证码报给我", "验证码发您手机上了，念一下", "我给您三倍赔偿",
         "下载腾讯会议，共享屏幕", "打开  会议软件  点共享", "今天天气不错", "晚上吃什么", "您的快递到了放门口",
         "京东客服提醒您，不要把验证码告诉任何人", "转到安全账户", "把钱转到这个账户上", "三倍赔偿马上到账",
         "ABC 客服 Hello", "我是京东的"]
LABELS = [["impersonation", "pretext"], ["sensitive_info"], ["sensitive_info"], ["lure"], ["guided_operation"],
          ["guided_operation"], [], [], [], [], ["transfer"], ["transfer"], ["lure"], [], ["impersonation"]]
IDS = ["impersonation", "pretext", "lure", "sensitive_info", "guided_operation", "transfer", "threat"]
NEW = ["验证码报一下", "您好我是客服", "共享屏幕看看", "", "😀😀", "HELLO abc", "三倍赔偿转到账户"]


def sklearn_probs(texts):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    x = vectorizer.fit_transform(TEXTS)
    out = np.zeros((len(texts), len(IDS)))
    for k, tactic in enumerate(IDS):
        y = np.array([tactic in row for row in LABELS])
        if y.any():
            model = LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced", random_state=0).fit(x, y)
            out[:, k] = model.predict_proba(vectorizer.transform(texts))[:, 1]
    return out


def test_ngrams_match_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    analyzer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).build_analyzer()
    for text in TEXTS + NEW:
        assert char_ngrams(text) == analyzer(text)


def test_predictions_match_scikit_learn():
    lexical = fit_lexical(TEXTS, LABELS, IDS)
    ours = lexical.predict(NEW)
    reference = sklearn_probs(NEW)
    seen = [k for k, t in enumerate(IDS) if any(t in row for row in LABELS)]
    assert np.allclose(ours[:, seen], reference[:, seen], atol=1e-5)
    assert (ours[:, IDS.index("threat")] < 1e-6).all()  # never labelled, never predicted


def test_save_and_load_round_trip(tmp_path):
    lexical = fit_lexical(TEXTS, LABELS, IDS)
    lexical.save(tmp_path)
    loaded = LexicalTactics.from_pretrained(tmp_path)
    assert loaded.tactic_ids == IDS
    assert np.allclose(loaded.predict(NEW), lexical.predict(NEW), atol=2e-3)  # coefficients are stored in fp16
    assert LexicalTactics.from_pretrained(tmp_path / "nothing-here") is None


def test_mix_and_weight_choice():
    neural = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    lexical = np.array([[0.1, 0.1], [0.9, 0.9], [0.0, 0.0]])
    assert np.allclose(mix(neural, lexical, 0.25), 0.75 * neural + 0.25 * lexical)
    gold = [["impersonation"], ["lure"], []]  # the neural column alone separates both tactics perfectly
    weight, scores = choose_weight(gold, neural, lexical, ["impersonation", "lure"], grid=(0.0, 0.5, 1.0))
    assert weight == 0.0 and scores[0.0] == 1.0 and scores[1.0] < 1.0
