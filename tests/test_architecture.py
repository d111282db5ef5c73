"""Floors only point down: no import cycle inside analyzer/, and the lower floors never import evaluation, the chain
or a face. Function-level imports count."""
import ast
from pathlib import Path

import networkx as nx
import pytest

from analyzer.paths import PACKAGE_DIR

FACES = ("analyzer.__main__", "analyzer.cli", "analyzer.serve", "analyzer.distributed", "app")
LOWER = ("analyzer.model", "analyzer.corpus", "analyzer.readers", "analyzer.training", "analyzer.taxonomy",
         "analyzer.schema", "analyzer.normalize", "analyzer.decision", "analyzer.metrics", "analyzer.predict",
         "analyzer.paths", "analyzer.rules", "analyzer.writers")
ABOVE_LOWER = ("analyzer.evaluation", "analyzer.chain", "analyzer.release") + FACES


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in PACKAGE_DIR.rglob("*.py"):
        name = module_name(path)
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target.startswith("analyzer") and target != name:
                    graph.add_edge(name, target)
    known = {n for n in graph if (PACKAGE_DIR.parent / n.replace(".", "/")).with_suffix(".py").exists()
             or (PACKAGE_DIR.parent / n.replace(".", "/") / "__init__.py").exists()}
    return graph.subgraph(known).copy()


def within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_cycle():
    graph = imports()
    # a package's __init__ re-exporting its own submodules is not a cycle between floors
    graph.remove_edges_from([(a, b) for a, b in list(graph.edges) if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles[:5]


@pytest.mark.parametrize("module", sorted(n for n in imports() if within(n, LOWER)))
def test_lower_floors_never_import_upward(module):
    graph = imports()
    upward = [t for t in graph.successors(module) if within(t, ABOVE_LOWER)]
    assert not upward, f"{module} imports {upward}"


def test_nothing_below_a_face_imports_a_face():
    graph = imports()
    bad = [(a, b) for a, b in graph.edges if within(b, FACES) and not within(a, FACES)]
    assert not bad, bad
