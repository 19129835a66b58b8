"""The README's Python code runs as written, so it cannot rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.bench import markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples() -> None:
    assert python_blocks()


def test_every_python_block_in_the_readme_runs() -> None:
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})


def test_the_performance_tables_are_the_committed_run() -> None:
    committed = Path(__file__).resolve().parents[2] / "tests/bench/results/latest.json"
    rendered = markdown.block(json.loads(committed.read_text(encoding="utf-8")))

    assert rendered in README.read_text(encoding="utf-8")
