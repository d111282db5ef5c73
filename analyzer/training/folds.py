"""The selection fold: whole scam types and benign situations held out of training, so that epochs, mixing weights,
thresholds, the verdict and its temperature are chosen on calls of kinds the tagger never saw (together with dev),
not on the in-distribution dev split alone. The OOD test sets in datasets/ood/ are never used for any of this.
"""
from __future__ import annotations

HELD_OUT_SCAM_TYPES = ("medical_etc", "second_hand", "romance", "identity_theft")
HELD_OUT_BENIGN_TYPES = ("insurance", "school", "hospital", "government_service")


def in_selection_fold(dialogue: dict, scam_types=HELD_OUT_SCAM_TYPES, benign_types=HELD_OUT_BENIGN_TYPES) -> bool:
    if dialogue.get("label") == "scam":
        return dialogue.get("scam_type") in scam_types
    return (dialogue.get("meta") or {}).get("benign_type") in benign_types


def split_selection_fold(train: list[dict], **kwargs) -> tuple[list[dict], list[dict]]:
    """(rows to train on, held-out rows for selection)."""
    fold = [d for d in train if in_selection_fold(d, **kwargs)]
    return [d for d in train if not in_selection_fold(d, **kwargs)], fold
