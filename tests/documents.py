"""The project's Markdown documents and the Python examples in them, for the tests that run them."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def documents() -> list[Path]:
    """Every Markdown document of the project, outside hidden and build folders."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        skipped = [name for name in subfolders if name.startswith(".") or name in ("build", "dist")]
        subfolders[:] = [name for name in subfolders if name not in skipped]
        found += [Path(folder) / name for name in files if name.endswith(".md")]
    return sorted(found)


def python_blocks(document: Path) -> list[str]:
    """The ```python blocks of ``document``, in order."""
    return re.findall(r"```python\n(.*?)```", document.read_text(encoding="utf-8"), flags=re.S)
