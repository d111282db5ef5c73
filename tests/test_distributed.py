"""The Ray Data job on a local Ray instance, over sharded JSONL and Parquet."""
import json

import pytest

ray = pytest.importorskip("ray", reason="ray is installed by the dev extra")


@pytest.fixture(scope="module")
def local_ray():
    # logical CPUs: two actors plus the read tasks must fit, or Ray Data waits for resources forever
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _dialogues(n, offset=0):
    return [{"id": f"d{offset + i}", "turns": [{"speaker": "客服", "text": "请把验证码告诉我" if i % 2 else "您好"},
                                               {"speaker": "用户", "text": "嗯"}]} for i in range(n)]


def _shards(folder, parts=3, per=20):
    folder.mkdir()
    for k in range(parts):
        (folder / f"part-{k}.jsonl").write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _dialogues(per, per * k)))
    return str(folder / "*.jsonl")


def test_rows_are_the_cli_schema_and_reruns_do_not_double(local_ray, tmp_path):
    from analyzer.api import Analyzer
    from analyzer.distributed import OutputExistsError, read_predictions, run

    pattern, out = _shards(tmp_path / "in"), str(tmp_path / "out")
    assert run([pattern], out, model="rules", batch_size=8, concurrency=2) == 60
    rows = read_predictions(out)
    assert sorted(r["id"] for r in rows) == sorted(f"d{i}" for i in range(60))
    expected = {p.id: p.to_dict() for p in Analyzer.from_pretrained("rules").analyze_many(_dialogues(60))}
    assert {r["id"]: r for r in rows} == expected  # same rows as `analyze`, alert_turn None where no alert
    assert any(r["alert_turn"] is None for r in rows)

    with pytest.raises(OutputExistsError):
        run([pattern], out, model="rules")
    assert run([pattern], out, model="rules", batch_size=8, concurrency=1, overwrite=True) == 60
    assert len(read_predictions(out)) == 60


def test_parquet_and_a_shipped_model_folder(local_ray, tmp_path, tiny_model):
    import pandas as pd
    from analyzer.distributed import model_files, read_predictions, run

    files = model_files(str(tiny_model))
    assert "config.json" in files and all(isinstance(v, bytes) for v in files.values())
    pd.DataFrame(_dialogues(10)).to_parquet(tmp_path / "in.parquet")
    assert run([str(tmp_path / "in.parquet")], str(tmp_path / "out"), model=str(tiny_model), runtime="torch",
               batch_size=4, concurrency=1) == 10
    assert {r["id"] for r in read_predictions(str(tmp_path / "out"))} == {f"d{i}" for i in range(10)}


def test_cli_refuses_an_existing_output(tmp_path, capsys):
    from analyzer.cli import main

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.jsonl").write_text("{}\n")
    assert main(["ray", str(tmp_path / "x.jsonl"), "-o", str(tmp_path / "out"), "--model", "rules"]) != 0
    assert "--overwrite" in capsys.readouterr().err
