"""Character n-gram measures for near-duplicates and diversity (no template-filled data)."""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Sequence

_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def dialogue_text(dialogue) -> str:
    turns = dialogue["turns"] if isinstance(dialogue, dict) else dialogue.turns
    return "".join((t["text"] if isinstance(t, dict) else t.text) for t in turns)


def shingles(text: str, n: int = 5) -> set[str]:
    """Character n-grams of the text with spaces and punctuation removed."""
    clean = _STRIP.sub("", text)
    return {clean[i:i + n] for i in range(max(1, len(clean) - n + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def similar_pairs(texts: Sequence[str], threshold: float, n: int = 5) -> list[tuple[int, int, float]]:
    """All pairs with Jaccard similarity of character n-grams >= threshold (inverted index on rare shingles)."""
    sets = [shingles(t, n) for t in texts]
    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for g in s:
            index[g].append(i)
    pairs = []
    for i, s in enumerate(sets):
        counts: dict[int, int] = defaultdict(int)
        for g in s:
            postings = index[g]
            if len(postings) > 200:  # very common shingles say nothing about duplication
                continue
            for j in postings:
                if j > i:
                    counts[j] += 1
        for j, shared in counts.items():
            # shared counts only rare shingles, so it is a lower bound; check exactly when it could pass
            if shared / max(len(s), len(sets[j])) >= threshold * 0.5:
                sim = jaccard(s, sets[j])
                if sim >= threshold:
                    pairs.append((i, j, sim))
    return pairs


def clusters(n_items: int, pairs: Iterable[tuple[int, int, float]]) -> list[list[int]]:
    """Connected components of the similarity graph (scipy.sparse.csgraph), largest first."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = [(i, j) for i, j, _ in pairs]
    rows = np.array([i for i, _ in edges], dtype=int)
    cols = np.array([j for _, j in edges], dtype=int)
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n_items, n_items))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[int(label)].append(i)
    return sorted(groups.values(), key=len, reverse=True)


def distinct_ngram_share(texts: Iterable[str], n: int = 5) -> float:
    """Distinct character n-grams / all n-gram occurrences: low values mean templated text."""
    seen, total = set(), 0
    for text in texts:
        clean = _STRIP.sub("", text)
        grams = [clean[i:i + n] for i in range(len(clean) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0
