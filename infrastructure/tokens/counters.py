"""Token counters: what a message costs in the request that next carries it, per provider."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal, get_args

from chatledger.domain import (
    AudioPart,
    EncodingUnavailable,
    FilePart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    RefusalPart,
    Role,
    TextPart,
)
from chatledger.infrastructure.tokens.encodings import ENCODINGS, load_encoding
from chatledger.infrastructure.tokens.media import (
    ANTHROPIC_MAX_IMAGE_TOKENS,
    DOCUMENT_PAGE_TEXT_TOKENS,
    OPENAI_LOW_DETAIL_TOKENS,
    OPENAI_MAX_IMAGE_TOKENS,
    anthropic_image_tokens,
    document_estimate,
    image_size,
    is_text_media,
    openai_image_tokens,
    pdf_pages,
)
from chatledger.infrastructure.tokens.models import DEFAULT_ENCODING, encoding_for_model

__all__ = [
    "AnthropicCounter",
    "DeferredCounter",
    "Provider",
    "TiktokenCounter",
    "default_token_counter",
]

Provider = Literal["openai", "anthropic"]
"""Whose requests a counter prices: OpenAI's (:class:`TiktokenCounter`) or Anthropic's."""


class _EncodingCounter:
    """What both providers' counters share: the cookbook's framing and the parts' costs."""

    # OpenAI publishes no figure for a tool call's framing (its id, type and delimiters); 3
    # matches the per-message framing and keeps calls from ever counting as free.
    TOKENS_PER_TOOL_CALL = 3
    # Every reply is primed with <|start|>assistant<|message|>.
    REQUEST_OVERHEAD = 3
    _max_image_tokens: ClassVar[int]

    def __init__(
        self,
        encoding: str,
        *,
        name: str,
        model: str | None = None,
        search_dirs: Sequence[Path] | None,
        use_installed_package: bool,
    ) -> None:
        try:
            self._encoding = load_encoding(
                encoding, search_dirs=search_dirs, use_installed_package=use_installed_package
            )
        except EncodingUnavailable as exc:
            if model is None:
                raise
            raise EncodingUnavailable(f"model {model!r} counts with {encoding}: {exc}") from None
        self._model = model
        self._encoding_name = encoding
        self._name = name
        # The cookbook's figures; gpt-3.5-turbo-0301 framed messages differently.
        legacy = model == "gpt-3.5-turbo-0301"
        self._per_message = 4 if legacy else 3
        self._per_name = -1 if legacy else 1
        # Five roles, counted on every message: encode them once.
        roles: tuple[str, ...] = get_args(Role)
        self._role_tokens = {role: self.encode_length(role) for role in roles}
        self._page_tokens = DOCUMENT_PAGE_TEXT_TOKENS + self._max_image_tokens

    @property
    def name(self) -> str:
        """The counting scheme, stored beside every count it makes."""
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
        """The tiktoken encoding in use, e.g. ``o200k_base``."""
        return self._encoding_name

    def encode_length(self, text: str) -> int:
        """Tokens in ``text``; special-token text counts as plain text and never raises."""
        # Text such as "<|endoftext|>" is what a user wrote, not a control token: never refuse it.
        return len(self._encoding.encode(text, disallowed_special=()))

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request, its per-message overhead included."""
        length = self.encode_length
        tokens = self._per_message + self._role_tokens[message.role]
        content = message.content
        if isinstance(content, str):
            if content:
                tokens += length(content)
        elif content is not None:
            for part in content:
                tokens += self._part(part, message)
        if message.name is not None:
            tokens += length(message.name) + self._per_name
        if message.tool_call_id is not None:
            tokens += length(message.tool_call_id)
        for call in message.tool_calls:
            tokens += self.TOKENS_PER_TOOL_CALL + length(call.name) + length(call.arguments)
        return tokens

    def _part(self, part: Part, message: Message) -> int:
        if isinstance(part, TextPart):
            return self.encode_length(part.text)
        if isinstance(part, RefusalPart):
            return self.encode_length(part.refusal)
        if isinstance(part, ImagePart):
            return self._image(part)
        if isinstance(part, FilePart):
            return self._file(part)
        if isinstance(part, AudioPart):
            return self._audio(part)
        return self._reasoning(part, message)

    def _image(self, part: ImagePart) -> int:
        # By URL or attached, the bytes are not here: the most any image costs at that detail.
        if part.data is None:
            return self._unknown_image(part.detail)
        size = _header_size(part.data)
        if size is None:
            return self._unknown_image(part.detail)
        return self._image_tokens(*size, part.detail)

    def _image_tokens(self, width: int, height: int, detail: str | None) -> int:
        raise NotImplementedError

    def _unknown_image(self, detail: str | None) -> int:
        return self._max_image_tokens

    def _file(self, part: FilePart) -> int:
        if part.text is not None:
            return self.encode_length(part.text)
        if part.data is not None:
            data = binascii.a2b_base64(part.data)
            if is_text_media(part.media_type):
                return self.encode_length(data.decode("utf-8", errors="replace"))
            pages = pdf_pages(data) if part.media_type == "application/pdf" else None
            if pages is not None:
                return pages * self._page_tokens
            return document_estimate(len(data), self._page_tokens)
        if part.attachment is not None:
            return document_estimate(part.attachment.size, self._page_tokens)
        # By URL or provider file id, its size is unknown: one page.
        return self._page_tokens

    def _audio(self, part: AudioPart) -> int:
        return 0

    def _reasoning(self, part: ReasoningPart, message: Message) -> int:
        raise NotImplementedError

    def _reasoning_size(self, part: ReasoningPart) -> int:
        """The reasoning's tokens when sent back: its opaque form if it has one, else its text."""
        opaque = part.encrypted_content if part.encrypted_content is not None else part.data
        if opaque is not None:
            return self.encode_length(opaque)
        return self.encode_length(part.text_of())


class TiktokenCounter(_EncodingCounter):
    """Counts what a message costs in an OpenAI request, following OpenAI's cookbook.

    Per message: ``tokens_per_message`` (3) plus the encoded role, content, name (plus
    ``tokens_per_name``, 1) and tool_call_id; for each tool call, its function name and
    arguments text plus ``TOKENS_PER_TOOL_CALL``. Per request: 3 tokens of reply priming.
    Content parts, each on its own:

    - text and refusals: their text;
    - images: OpenAI's tile formula (:func:`openai_image_tokens`) on the size read from the
      image's header. An image whose bytes are not in the message (by URL, or attached) or
      cannot be read counts as the most any image costs at its detail: 85 tokens at ``low``,
      1,445 otherwise (an upper bound, never below the real cost);
    - files: a text document's text (``text`` or bytes of a text media type); a PDF whose
      pages can be counted, 3,000 tokens of text a page plus the most a page image costs;
      other bytes, an estimate of 4 bytes a token (up to 100 such pages); by URL or file id,
      one page;
    - audio: 0. OpenAI publishes no tokens-per-second figure and the audio is not decoded,
      so audio is not priced (an under-estimate for audio models);
    - reasoning (provider ``openai``, Responses reasoning items): OpenAI documents that
      reasoning items are kept within a tool-calling turn and dropped from every later turn,
      so they count only on a message with tool calls, as their encrypted content (counted as
      text: OpenAI publishes no relation to the reasoning tokens it hides) or else their
      summary. Other providers' reasoning is left out of OpenAI requests: 0.
    """

    _max_image_tokens = OPENAI_MAX_IMAGE_TOKENS

    def __init__(
        self,
        model: str | None = None,
        encoding: str | None = None,
        *,
        search_dirs: Sequence[Path] | None = None,
        use_installed_package: bool = True,
    ) -> None:
        if encoding is None:
            encoding = DEFAULT_ENCODING if model is None else encoding_for_model(model)
        super().__init__(
            encoding,
            name=_tiktoken_name(model, encoding),
            model=model,
            search_dirs=search_dirs,
            use_installed_package=use_installed_package,
        )

    @property
    def name(self) -> str:
        """The counting scheme, e.g. ``tiktoken:gpt-4o/o200k_base``; stored beside every count."""
        return self._name

    def _image_tokens(self, width: int, height: int, detail: str | None) -> int:
        return openai_image_tokens(width, height, detail)

    def _unknown_image(self, detail: str | None) -> int:
        return OPENAI_LOW_DETAIL_TOKENS if detail == "low" else OPENAI_MAX_IMAGE_TOKENS

    def _reasoning(self, part: ReasoningPart, message: Message) -> int:
        if part.provider != "openai" or not message.tool_calls:
            return 0
        return self._reasoning_size(part)


class AnthropicCounter(_EncodingCounter):
    """Approximates what a message costs in an Anthropic request, offline.

    Anthropic publishes no tokenizer: text is counted with a tiktoken encoding
    (``o200k_base`` unless named) and the OpenAI cookbook's framing, and the counter's name,
    ``approx-anthropic:ENCODING``, says so beside every stored count. For exact figures ask
    Anthropic's token-counting endpoint; this counter never calls out. Content parts:

    - text and refusals: their text; tool calls: name and arguments, as for OpenAI;
    - images: Anthropic's published ``width * height / 750`` (:func:`anthropic_image_tokens`),
      after its resizing to 1568 px on the long edge; an image whose bytes are not in the
      message or cannot be read counts 1,600 tokens, the most any image costs;
    - files: as :class:`TiktokenCounter` counts them, a PDF page's image at 1,600 tokens;
    - audio: 0; Anthropic takes no audio, and renderings for it leave audio out;
    - reasoning (provider ``anthropic``): counted whole on every message, as its thinking
      text, or a redacted block's data counted as text. This is the safe over-estimate:
      Anthropic's newer models (Opus 4.5 and later, Sonnet 4.6 and later) keep previous turns'
      thinking in context, while older ones strip it from all but the current tool-use turn,
      where it must be sent back and is billed. Other providers' reasoning: 0.
    """

    _max_image_tokens = ANTHROPIC_MAX_IMAGE_TOKENS

    def __init__(
        self,
        encoding: str = DEFAULT_ENCODING,
        *,
        search_dirs: Sequence[Path] | None = None,
        use_installed_package: bool = True,
    ) -> None:
        super().__init__(
            encoding,
            name=_anthropic_name(encoding),
            search_dirs=search_dirs,
            use_installed_package=use_installed_package,
        )

    @property
    def name(self) -> str:
        """The counting scheme, e.g. ``approx-anthropic:o200k_base``; stored beside every count."""
        return self._name

    def _image_tokens(self, width: int, height: int, detail: str | None) -> int:
        return anthropic_image_tokens(width, height)

    def _reasoning(self, part: ReasoningPart, message: Message) -> int:
        if part.provider != "anthropic":
            return 0
        return self._reasoning_size(part)


# Base64 of the first 48 KiB: past any PNG, GIF or WebP header and most JPEGs'. Decoding all of
# a large image only to read its header would cost more than the rest of recording it.
_HEADER_CHARS = 64 * 1024


def _header_size(data: str) -> tuple[int, int] | None:
    """The size an image's header gives, read from its first bytes where they suffice."""
    if len(data) > _HEADER_CHARS:
        size = image_size(binascii.a2b_base64(data[:_HEADER_CHARS]))
        if size is not None:
            return size
    return image_size(binascii.a2b_base64(data))


def _tiktoken_name(model: str | None, encoding: str) -> str:
    return f"tiktoken:{model}/{encoding}" if model else f"tiktoken:{encoding}"


def _anthropic_name(encoding: str) -> str:
    return f"approx-anthropic:{encoding}"


def default_token_counter() -> TiktokenCounter:
    """The o200k_base counter, loaded offline; EncodingUnavailable says how to provide it."""
    return TiktokenCounter(encoding=DEFAULT_ENCODING)


class DeferredCounter:
    """A counter that loads its encoding files only when it first counts.

    Reading history, memory (from the counts stored at record time), verifying and exporting
    need no tokenizer, so a ledger opened with this counter reads where no encoding is
    installed; only recording raises EncodingUnavailable, saying how to provide one.
    ``provider="anthropic"`` defers an :class:`AnthropicCounter` (by encoding, not model).
    """

    def __init__(
        self,
        model: str | None = None,
        encoding: str | None = None,
        *,
        provider: Provider = "openai",
        search_dirs: Sequence[Path] | None = None,
        use_installed_package: bool = True,
    ) -> None:
        if provider == "anthropic" and model is not None:
            raise ValueError("the Anthropic counter counts by encoding=, not by model=")
        if encoding is None and model is not None:
            encoding = encoding_for_model(model)
        encoding = encoding or DEFAULT_ENCODING
        if encoding not in ENCODINGS:
            raise EncodingUnavailable(
                f"unknown encoding {encoding!r}: use one of {', '.join(ENCODINGS)}"
            )
        self._model = model
        self._encoding = encoding
        self._provider = provider
        self._search_dirs = search_dirs
        self._use_installed_package = use_installed_package
        self._loaded: _EncodingCounter | None = None

    @property
    def name(self) -> str:
        """The counting scheme, as the counter it defers gives it, without loading anything."""
        if self._provider == "anthropic":
            return _anthropic_name(self._encoding)
        return _tiktoken_name(self._model, self._encoding)

    @property
    def request_overhead(self) -> int:
        """Tokens added once per request: the reply priming."""
        return _EncodingCounter.REQUEST_OVERHEAD

    @property
    def loaded(self) -> bool:
        """Whether the encoding has been loaded (by a first count)."""
        return self._loaded is not None

    def count(self, message: Message) -> int:
        """Tokens this message adds to a request; the first call loads the encoding."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded.count(message)

    def _load(self) -> _EncodingCounter:
        if self._provider == "anthropic":
            return AnthropicCounter(
                self._encoding,
                search_dirs=self._search_dirs,
                use_installed_package=self._use_installed_package,
            )
        return TiktokenCounter(
            model=self._model,
            encoding=self._encoding,
            search_dirs=self._search_dirs,
            use_installed_package=self._use_installed_package,
        )
