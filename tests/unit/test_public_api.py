"""Each package's public API is curated: __all__ is sorted, complete, and documented."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = [
    "chatledger",
    "chatledger.domain",
    "chatledger.projections",
    "chatledger.infrastructure",
    "chatledger.infrastructure.entrypoints.http",
    "chatledger.integrations.langchain",
    "chatledger.integrations.openai_agents",
    "chatledger.integrations.pydantic_ai",
]


def public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and _defined_within(getattr(value, "__module__", module.__name__), module.__name__)
    }


def _defined_within(defined_in: str, package: str) -> bool:
    """Whether a name comes from the package itself (the root package: from any layer)."""
    return defined_in == package or defined_in.startswith(package + ".")


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package: str) -> None:
    module = importlib.import_module(package)

    assert list(module.__all__) == sorted(module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_lists_every_public_name_the_package_imports(package: str) -> None:
    module = importlib.import_module(package)

    assert public_names(module) <= set(module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_class_and_function_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    exported = [getattr(module, name) for name in module.__all__]

    undocumented = [
        obj.__name__
        for obj in exported
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not inspect.getdoc(obj)
    ]

    assert undocumented == []


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_exports_names_of_its_own(package: str) -> None:
    module = importlib.import_module(package)

    assert public_names(module)


def test_the_root_package_exports_what_the_synopsis_needs() -> None:
    import chatledger

    needed = {
        "ChatLedger",
        "Message",
        "ToolCall",
        "TokenWindow",
        "MessageWindow",
        "ChatLedgerError",
    }

    assert needed <= set(chatledger.__all__)


def test_no_source_file_imports_the_layers_as_top_level_packages() -> None:
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"^\s*(from|import) (domain|projections|infrastructure)\b", re.M)
    # The comparison worker imports old checkouts, whose layers were top-level packages; the
    # wheel test's application has packages of its own named domain and infrastructure.
    allowed = {Path("tests/bench/compare_worker.py"), Path("tests/e2e/test_wheel.py")}
    sources = [
        p.relative_to(root) for p in root.rglob("*.py") if not {".venv", ".typing"} & set(p.parts)
    ]

    offenders = [p for p in sources if pattern.search((root / p).read_text("utf-8"))]

    assert len(sources) > 100
    assert set(offenders) == allowed
