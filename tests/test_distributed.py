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


def test_ray_map_batches_jsonl_and_parquet(local_ray, tmp_path):
    import pandas as pd
    from analyzer.distributed import run
    shards = tmp_path / "in"
    shards.mkdir()
    for k in range(3):
        (shards / f"part-{k}.jsonl").write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _dialogues(20, 20 * k)))
    count = run([str(shards / "*.jsonl")], str(tmp_path / "out"), model="rules", batch_size=8, concurrency=2)
    assert count == 60
    rows = [json.loads(line) for f in sorted((tmp_path / "out").glob("*.json*")) for line in f.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(f"d{i}" for i in range(60))
    by_id = {r["id"]: r for r in rows}
    assert json.loads(by_id["d1"]["prediction"])["turns"][0]["predicted"] == ["sensitive_info"]

    pd.DataFrame(_dialogues(10)).to_parquet(tmp_path / "in.parquet")
    assert run([str(tmp_path / "in.parquet")], str(tmp_path / "out2"), model="rules", batch_size=4, concurrency=1) == 10
