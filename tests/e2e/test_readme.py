"""The documents cannot rot: their Python runs, links resolve, bench tables match the run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.bench import markdown
from tests.documents import README, ROOT, documents, python_blocks

README_MOST_LINES = 345
"""Room for the branches' and the three framework adapters' snippets, and nothing more."""
MOVED = ("infrastructure/bench", "infrastructure.bench", "chatledger bench", "static/screenshot")
"""Paths and commands the restructuring retired; a document naming one is stale."""


def _name(document: Path) -> str:
    return str(document.relative_to(ROOT))


BLOCKS = [
    pytest.param(document, code, id=f"{_name(document)}#{number}")
    for document in documents()
    for number, code in enumerate(python_blocks(document), start=1)
]


def test_the_readme_has_python_examples() -> None:
    assert python_blocks(README)


def test_the_audit_document_has_python_examples() -> None:
    assert python_blocks(ROOT / "infrastructure/services/AUDIT.md")


@pytest.mark.parametrize(("document", "code"), BLOCKS)
def test_every_python_block_in_the_documents_runs(document: Path, code: str) -> None:
    exec(compile(code, str(document), "exec"), {"__name__": "documentation"})


@pytest.mark.parametrize("document", documents(), ids=_name)
def test_python_in_a_document_is_fenced_so_that_it_runs(document: Path) -> None:
    fences = re.findall(r"^```(\S+)", document.read_text(encoding="utf-8"), flags=re.M)

    assert not {"py", "python3", "pycon", "Python"} & set(fences)


@pytest.mark.parametrize("document", documents(), ids=_name)
def test_every_relative_link_in_a_document_resolves(document: Path) -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8"))
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]

    assert [target for target in local if not (document.parent / target).exists()] == []


@pytest.mark.parametrize("document", documents(), ids=_name)
def test_no_document_names_a_retired_path(document: Path) -> None:
    text = document.read_text(encoding="utf-8")

    assert [moved for moved in MOVED if moved in text] == []
    assert not re.search(r"^from (domain|projections|infrastructure)\b", text, flags=re.M)


def test_the_readme_stays_short() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= README_MOST_LINES


def _committed() -> dict[str, object]:
    results: dict[str, object] = json.loads(markdown.COMMITTED.read_text(encoding="utf-8"))
    return results


def test_the_results_document_holds_the_committed_run_tables() -> None:
    rendered = markdown.tables(_committed())

    assert rendered in markdown.RESULTS_DOCUMENT.read_text(encoding="utf-8")


def test_the_readme_headline_is_the_committed_run() -> None:
    rendered = markdown.headline(_committed())

    assert rendered in README.read_text(encoding="utf-8")


def test_filling_a_block_replaces_only_what_lies_between_its_markers() -> None:
    stale = f"before\n{markdown.HEADLINE.wrap(['old'])}\nafter\n"

    filled = markdown.HEADLINE.replace(stale, markdown.HEADLINE.wrap(["new"]))

    assert filled == f"before\n{markdown.HEADLINE.wrap(['new'])}\nafter\n"
