"""Run one system over gold dialogues, keeping input order; a dialogue it cannot predict is None, never benign."""
from __future__ import annotations

import sys

from analyzer.schema import Dialogue


def predict_all(system, dialogues: list[dict], desc: str, batch_size: int = 16) -> list:
    from tqdm.auto import tqdm

    out = []
    with tqdm(total=len(dialogues), desc=desc, unit="dialogue", file=sys.stderr, disable=None, leave=False) as bar:
        for i in range(0, len(dialogues), batch_size):
            batch = [Dialogue.model_validate(d) for d in dialogues[i:i + batch_size]]
            try:
                out += system.analyze_many(batch, batch_size=batch_size)
            except Exception:  # fall back to one at a time so one bad dialogue costs only itself
                for d in batch:
                    try:
                        out.append(system.analyze(d))
                    except Exception:
                        out.append(None)
            bar.update(len(batch))
    return out
