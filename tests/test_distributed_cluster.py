"""The Ray job against a running two-node local cluster, reached by address as an existing cluster would be."""
import json

import pytest

ray = pytest.importorskip("ray", reason="ray is installed by the dev extra")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    nodes.add_node(num_cpus=2)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def test_job_on_a_running_cluster(cluster, tmp_path, tiny_model):
    from analyzer.distributed import read_predictions, run

    inputs = tmp_path / "calls.jsonl"
    inputs.write_text("".join(json.dumps({"id": f"c{i}", "turns": [{"speaker": "A", "text": "您好，请提供验证码"},
                                                                    {"speaker": "B", "text": "好的"}]}) + "\n"
                              for i in range(24)))
    count = run([str(inputs)], str(tmp_path / "out"), model=str(tiny_model), runtime="torch", batch_size=6,
                concurrency=2, address=cluster.address)
    assert count == 24
    assert len(ray.nodes()) == 2
    rows = read_predictions(str(tmp_path / "out"))
    assert sorted(r["id"] for r in rows) == sorted(f"c{i}" for i in range(24))
    assert all(set(r) >= {"scam_probability", "is_scam", "risk_level", "alert_turn", "turns"} for r in rows)
