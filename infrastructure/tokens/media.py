"""What images and documents cost in tokens: the providers' published formulas, and estimates.

Pure arithmetic, except :func:`image_size`, which reads an image's header with Pillow (the
``encodings`` extra installs it; it is imported only when an image's bytes are counted).
"""

from __future__ import annotations

import io
import math
import re
import struct

from chatledger.domain import EncodingUnavailable

__all__ = [
    "ANTHROPIC_MAX_IMAGE_TOKENS",
    "DOCUMENT_PAGE_TEXT_TOKENS",
    "MAX_DOCUMENT_PAGES",
    "OPENAI_LOW_DETAIL_TOKENS",
    "OPENAI_MAX_IMAGE_TOKENS",
    "anthropic_image_tokens",
    "document_estimate",
    "image_size",
    "is_text_media",
    "openai_image_tokens",
    "pdf_pages",
]

OPENAI_LOW_DETAIL_TOKENS = 85
"""What any image costs at ``detail: low``, and the base every ``high`` image pays."""
_OPENAI_TILE_TOKENS = 170
_OPENAI_TILE = 512
_OPENAI_FIT = 2048
_OPENAI_SHORT_SIDE = 768
OPENAI_MAX_IMAGE_TOKENS = OPENAI_LOW_DETAIL_TOKENS + _OPENAI_TILE_TOKENS * 2 * 4
"""The most an image can cost at ``high``: once fitted, at most 768 x 2048 px, 2 x 4 tiles."""

_ANTHROPIC_PIXELS_PER_TOKEN = 750
_ANTHROPIC_LONG_EDGE = 1568
ANTHROPIC_MAX_IMAGE_TOKENS = 1600
"""Anthropic scales down any image over about 1,600 tokens: the most an image costs."""

DOCUMENT_PAGE_TEXT_TOKENS = 3000
"""A page's text, at the top of the 1,500-3,000 tokens a page Anthropic's PDF guide gives."""
MAX_DOCUMENT_PAGES = 100
"""The most pages either provider takes in one PDF: no estimate goes past this many."""
_BYTES_PER_TOKEN = 4
"""English text's rule of thumb (about 4 characters a token), applied to bytes of unknown kind."""

# Providers take PNG, JPEG, GIF and WebP images: Pillow is asked to read no other format.
_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# A page object (`/Type /Page`, not the `/Type /Pages` tree above them), uncompressed.
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_TEXT_MEDIA = re.compile(
    r"text/[\w.+-]+|application/(json|xml|x-ndjson|yaml|x-yaml|[\w.-]+\+(json|xml))"
)


def openai_image_tokens(width: int, height: int, detail: str | None = None) -> int:
    """What an image of ``width`` x ``height`` px costs in an OpenAI request, by ``detail``.

    OpenAI's published formula for GPT-4o-class models: ``low`` costs 85 tokens; ``high`` (and
    ``auto`` or no detail, which may pick high) scales the image to fit 2048 x 2048, then its
    shortest side down to 768 px (never up), and costs 170 tokens per 512 px tile plus 85.
    Models OpenAI prices images differently for (by 32 px patches, or with a multiplier) are
    counted by this formula all the same.
    """
    if detail == "low":
        return OPENAI_LOW_DETAIL_TOKENS
    width, height = max(1, width), max(1, height)
    longest = max(width, height)
    if longest > _OPENAI_FIT:
        width, height = _scaled(width, height, _OPENAI_FIT, longest)
    shortest = min(width, height)
    if shortest > _OPENAI_SHORT_SIDE:
        width, height = _scaled(width, height, _OPENAI_SHORT_SIDE, shortest)
    tiles = math.ceil(width / _OPENAI_TILE) * math.ceil(height / _OPENAI_TILE)
    return OPENAI_LOW_DETAIL_TOKENS + _OPENAI_TILE_TOKENS * tiles


def anthropic_image_tokens(width: int, height: int) -> int:
    """What an image of ``width`` x ``height`` px costs in an Anthropic request, approximately.

    Anthropic's published approximation, ``width * height / 750`` (rounded up), after the
    API's own resizing: to fit 1568 px on the long edge, and down to about 1,600 tokens.
    Models with a larger image limit are counted by this rule all the same.
    """
    width, height = max(1, width), max(1, height)
    longest = max(width, height)
    if longest > _ANTHROPIC_LONG_EDGE:
        width, height = _scaled(width, height, _ANTHROPIC_LONG_EDGE, longest)
    tokens = math.ceil(width * height / _ANTHROPIC_PIXELS_PER_TOKEN)
    return min(tokens, ANTHROPIC_MAX_IMAGE_TOKENS)


def _scaled(width: int, height: int, to: int, side: int) -> tuple[int, int]:
    """Both sides scaled by ``to / side``, in whole pixels, and never below one."""
    return max(1, width * to // side), max(1, height * to // side)


def image_size(data: bytes) -> tuple[int, int] | None:
    """The image's width and height from its header; None if it is no PNG, JPEG, GIF or WebP.

    Only the header is read, never the pixels. An image past Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``) is None too, whether the host's warnings filter lets
    Pillow's warning through or raises it.

    Raises:
        EncodingUnavailable: Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError:
        raise EncodingUnavailable(
            "counting an image's tokens reads its size with Pillow, which is not installed: "
            "`pip install 'chatledger[encodings]'` (or `pip install pillow`)"
        ) from None
    try:
        with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
            width, height = image.size
    # A host that turns warnings into errors raises the bomb warning here too.
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,  # UnidentifiedImageError among them
        SyntaxError,
        ValueError,
        struct.error,
    ):
        return None
    # Decided here, not by how the host treats Pillow's warning: the same bytes, the same count.
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        return None
    return width, height


def is_text_media(media_type: str | None) -> bool:
    """Whether bytes of ``media_type`` are text a model reads as text (``text/*``, JSON, XML)."""
    return media_type is not None and _TEXT_MEDIA.fullmatch(media_type.lower()) is not None


def pdf_pages(data: bytes) -> int | None:
    """The PDF's page count from its uncompressed page objects; None where none can be seen.

    PDFs that keep their objects in compressed object streams hide their pages from this.
    """
    pages = len(_PDF_PAGE.findall(data))
    return pages or None


def document_estimate(size: int, page_tokens: int) -> int:
    """Tokens for ``size`` bytes of a document whose content cannot be read: 4 bytes a token.

    An estimate, not a bound: never more than the most pages a PDF may have, at
    ``page_tokens`` a page.
    """
    return min(math.ceil(size / _BYTES_PER_TOKEN), MAX_DOCUMENT_PAGES * page_tokens)
