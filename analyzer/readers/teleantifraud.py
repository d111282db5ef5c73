"""The TeleAntiFraud multi-agent JSONL: caller utterances in `left`, callee in `right`, alternating."""
from __future__ import annotations

from typing import Iterator

from analyzer.readers.base import Record, Source, to_record
from analyzer.readers.json_format import json_lines

BENIGN_SCENARIOS = frozenset({"订餐服务", "外卖服务", "预约服务", "咨询客服", "日常购物", "打车服务", "交通咨询"})
SCAM_TYPE_MAP = {"客服诈骗": "ecommerce_refund", "银行诈骗": "bank_phishing", "钓鱼诈骗": "phishing",
                 "投资诈骗": "fake_investment", "彩票诈骗": "prize_lottery", "绑架诈骗": "kidnapping",
                 "身份盗窃": "identity_theft", "邮件诈骗": "postal_parcel"}


def convert(obj: dict, default_id: str) -> dict:
    """TeleAntiFraud object -> project dialogue dict (label from its fraud_type field)."""
    left, right = obj.get("left") or [], obj.get("right") or []
    turns = []
    for k in range(max(len(left), len(right))):
        if k < len(left):
            turns.append({"speaker": "来电", "text": left[k]})
        if k < len(right):
            turns.append({"speaker": "接听", "text": right[k]})
    kind = obj.get("fraud_type")
    out = {"id": str(obj.get("tts_id") or default_id), "turns": turns, "source": "teleantifraud",
           "meta": {k: obj[k] for k in ("fraud_type", "user_age", "user_awareness", "occupation", "terminator")
                    if k in obj}}
    if kind in BENIGN_SCENARIOS:
        out["label"] = "benign"
    elif kind in SCAM_TYPE_MAP:
        out["label"] = "scam"
        out["scam_type"] = SCAM_TYPE_MAP[kind]
    return out


def read_teleantifraud(source: Source) -> Iterator[Record]:
    for where, number, obj in json_lines(source):
        if isinstance(obj, Record):
            yield obj
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("left"), list) or not isinstance(obj.get("right"), list):
            yield Record(where, error=f"{where}: expected an object with 'left' and 'right' lists")
            continue
        yield to_record(convert(obj, f"line-{number}"), where, default_id=f"line-{number}")
