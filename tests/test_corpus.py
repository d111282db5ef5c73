import json

import pytest

from analyzer.corpus import SPLITS, load_corpus, load_split
from analyzer.corpus.agreement import agreement, cohen_kappa
from analyzer.corpus.dedup import distinct_ngram_share, jaccard, shingles, similar_pairs
from analyzer.corpus.stats import check, compute
from analyzer.paths import DATASETS_DIR
from analyzer.schema import Dialogue
from analyzer.taxonomy import SCAM_TYPES


@pytest.fixture(scope="module")
def gold():
    return {s: load_split(s) for s in SPLITS}


def test_every_file_valid_against_schema_and_taxonomy(gold):
    for split, rows in gold.items():
        for row in rows:
            d = Dialogue.model_validate(row)
            assert d.label in ("scam", "benign"), d.id
            assert all(t.tactics is not None for t in d.turns), d.id
            if d.label == "scam":
                assert d.scam_type in SCAM_TYPES, d.id
            else:
                assert not any(t.tactics for t in d.turns), f"benign dialogue {d.id} carries tactics"
    silver = load_split("silver")
    assert len(silver) > 5000 and all(Dialogue.model_validate(r).label in ("scam", "benign") for r in silver[:500])


def test_splits_disjoint_and_test_frozen(gold):
    import hashlib
    ids = [d["id"] for rows in gold.values() for d in rows]
    assert len(ids) == len(set(ids))
    lock = json.loads((DATASETS_DIR / "gold" / "test.lock.json").read_text())
    assert hashlib.sha256((DATASETS_DIR / "gold" / "test.jsonl").read_bytes()).hexdigest() == lock["sha256"]
    assert sorted(lock["ids"]) == sorted(d["id"] for d in gold["test"])


def test_corpus_stats_check_every_v2_requirement():
    stats = compute()
    print(json.dumps(stats, ensure_ascii=False, indent=1))
    failures = check(stats)
    # what holds now must keep holding: both OOD sets locked and their unseen scam types out of train and dev
    assert all(status["locked"] for status in stats["ood"].values()), stats["ood"]
    assert stats["unseen_types_in_train_dev"] == []
    assert not [f for f in failures if f.startswith(("ood/", "unseen_types"))]
    # the rest is measured and reported (the corpus issue lists what is still short)
    for key in ("dialogues", "benign_lookalikes", "scam_types_with_10", "disclaimer_share", "role_neutral_share",
                "asr_share", "cue_coverage"):
        assert key in stats


def test_ood_sets_load_locked_and_refuse_changes(tmp_path, monkeypatch):
    import shutil

    from analyzer.corpus import ood
    dd = load_corpus("ood")
    assert dd["unseen_types"].num_rows >= 300 and dd["wild"].num_rows >= 400
    wild = load_split("ood/wild")
    assert sum(d["label"] == "benign" for d in wild) >= 0.4 * len(wild)
    assert len({d["scam_type"] for d in wild if d["label"] == "scam"}) >= 15
    unseen = load_split("ood/unseen_types")
    assert len({d["scam_type"] for d in unseen if d["label"] == "scam"}) >= 8
    assert len({d["meta"]["benign_type"] for d in unseen if d["label"] == "benign"}) >= 4
    copy = tmp_path / "ood"
    shutil.copytree(ood.OOD_DIR, copy)
    monkeypatch.setattr(ood, "OOD_DIR", copy)
    path = copy / "wild.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace("喂", "哈", 1), encoding="utf-8")
    with pytest.raises(ood.FrozenSetError, match="does not match"):
        load_split("ood/wild")


def test_malformed_raw_row_names_file_and_line(tmp_path):
    from analyzer.corpus.validate import RawRowError, read_raw
    path = tmp_path / "batch.jsonl"
    good = {"id": "x1", "label": "benign", "turns": [{"speaker": "A", "text": "喂", "tactics": []}],
            "meta": {"benign_type": "family", "lookalike": False}}
    bad = {**good, "id": "x2", "turns": [{"speaker": "A", "text": "喂", "tactics": ["bribery"]}]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RawRowError, match=r"batch.jsonl:2: turn 0 has unknown tactics"):
        read_raw(path)


def test_no_silver_leak_into_gold_test(gold):
    from analyzer.corpus.dedup import dialogue_text
    test_texts = [dialogue_text(d) for d in gold["test"]]
    silver_texts = [dialogue_text(d) for d in load_split("silver")]
    pairs = similar_pairs(test_texts + silver_texts, 0.5)
    assert not [p for p in pairs if p[0] < len(test_texts) <= p[1]]


def test_load_corpus_datasetdict():
    dd = load_corpus("gold")
    assert set(dd) == set(SPLITS) and dd["train"].num_rows > 500
    assert isinstance(dd["test"][0]["turns"][0]["tactics"], list)
    assert dd["train"].features["label"].names == ["benign", "scam"]


def test_dedup_helpers():
    assert jaccard(shingles("您好我是淘宝客服请问"), shingles("您好我是淘宝客服请问")) == 1.0
    pairs = similar_pairs(["今天天气很好我们去公园散步吧", "今天天气很好我们去公园散步吧！", "完全不同的一句话内容在这里"], 0.8)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert distinct_ngram_share(["abcdefg", "abcdefg"]) == pytest.approx(0.5)


def test_kappa_and_agreement():
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 1, 0]) == 0.0
    result = agreement({"d": [["lure"], []]}, {"d": [["lure"], ["threat"]]})
    assert result["turn_exact_agreement"] == 0.5 and result["per_tactic"]["lure"]["kappa"] == 1.0


def test_blind_study_compares_every_pair(tmp_path, monkeypatch):
    """The v2 study maps anonymous ids back to gold and scores gold and each reader pairwise."""
    from analyzer.corpus import agreement as study, load_split

    gold = [d for d in load_split("dev")[:3]]
    (tmp_path / "key.json").write_text(json.dumps({f"a-{i}": d["id"] for i, d in enumerate(gold)}))
    perfect = [{"id": f"a-{i}", "label": d["label"], "tactics": [t.get("tactics") or [] for t in d["turns"]]}
               for i, d in enumerate(gold)]
    silent = [{"id": r["id"], "label": "benign", "tactics": [[] for _ in r["tactics"]]} for r in perfect]
    for name, rows in (("reader_b", perfect), ("reader_c", silent)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(study, "V2_DIR", tmp_path)
    report = study.study_v2()
    assert set(report["pairs"]) == {"gold~reader_b", "gold~reader_c", "reader_b~reader_c"} and report["found"] == 3
    assert report["pairs"]["gold~reader_b"]["turn_exact_agreement"] == 1.0
    assert report["pairs"]["gold~reader_c"]["turn_exact_agreement"] < 1.0
    labels = {d["label"] for d in gold}
    assert report["pairs"]["gold~reader_b"]["dialogue_label"]["agreement"] == 1.0
    if "scam" in labels:
        assert report["pairs"]["gold~reader_c"]["dialogue_label"]["agreement"] < 1.0


def test_agreement_study_reproducible():
    from analyzer.corpus.agreement import main
    report = main(write=False)
    assert report["all"]["dialogues"] >= 150
    saved = json.loads((DATASETS_DIR / "agreement.json").read_text())
    assert saved["all"]["turn_exact_agreement"] == report["all"]["turn_exact_agreement"]
