"""The README's Python code blocks run as written (a block marked '# needs: ...' needs a running service: skipped)."""
import re

import pytest

from analyzer.paths import REPO_DIR

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO_DIR / "README.md").read_text(encoding="utf-8"), re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, monkeypatch):
    if "# needs:" in code:
        pytest.skip(code.split("# needs:", 1)[1].splitlines()[0].strip())
    monkeypatch.chdir(REPO_DIR)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
