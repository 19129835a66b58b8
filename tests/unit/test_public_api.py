"""Each package's public API is curated: __all__ is sorted, complete, and documented."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

# Imported by their installed names: a bare `domain` would be a second copy of the layer, whose
# names all come from `chatledger.domain.*`, and would leave nothing to check.
PACKAGES = [
    "chatledger",
    "chatledger.domain",
    "chatledger.projections",
    "chatledger.infrastructure",
]


def public_names(module: ModuleType) -> set[str]:
    """The public names ``module`` defines or imports from inside itself."""
    inside = module.__name__ + "."
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and (getattr(value, "__module__", None) or module.__name__ + ".").startswith(inside)
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_has_public_names_to_check(package: str) -> None:
    assert public_names(importlib.import_module(package))


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
