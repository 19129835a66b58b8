"""Images cost what the providers publish: OpenAI's tiles by detail, Anthropic's pixel area."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from chatledger.domain import Attachment, ImagePart, Message
from chatledger.infrastructure.tokens import (
    AnthropicCounter,
    TiktokenCounter,
    anthropic_image_tokens,
    openai_image_tokens,
)

DETAILS = st.sampled_from([None, "low", "high", "auto"])
SIDES = st.integers(min_value=1, max_value=30_000)


@pytest.fixture(scope="module")
def openai() -> TiktokenCounter:
    return TiktokenCounter()


@pytest.fixture(scope="module")
def anthropic() -> AnthropicCounter:
    return AnthropicCounter()


def encoded(width: int, height: int, image_format: str = "PNG") -> str:
    """A real image of that size, made by Pillow, as base64 (one bit a pixel where it can)."""
    mode = "1" if image_format == "PNG" else "L"
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format=image_format)
    return base64.b64encode(out.getvalue()).decode("ascii")


def image(width: int, height: int, detail: str | None = None, image_format: str = "PNG") -> Message:
    part = ImagePart(
        data=encoded(width, height, image_format),
        media_type=f"image/{image_format.lower()}",
        detail=detail,
    )
    return Message(role="user", content=(part,))


def cost(counter: TiktokenCounter | AnthropicCounter, message: Message) -> int:
    """What the message's parts add to the same message without them."""
    return counter.count(message) - counter.count(Message(role=message.role))


def png_header(width: int, height: int) -> str:
    """A PNG declaring the size whose pixel data is empty: what a bomb looks like to a reader."""
    chunks = b"".join(
        _chunk(kind, body)
        for kind, body in (
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
            (b"IDAT", zlib.compress(b"")),
            (b"IEND", b""),
        )
    )
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunks).decode("ascii")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# OpenAI's vision guide, "Calculating costs": its worked examples.
@pytest.mark.parametrize(
    ("width", "height", "detail", "tokens"),
    [(1024, 1024, "high", 765), (2048, 4096, "high", 1105), (4096, 8192, "low", 85)],
)
def test_openais_published_image_examples_cost_what_it_says(
    openai: TiktokenCounter, width: int, height: int, detail: str, tokens: int
) -> None:
    assert cost(openai, image(width, height, detail)) == tokens


@pytest.mark.parametrize("detail", ["auto", None])
def test_auto_or_no_detail_costs_as_high(openai: TiktokenCounter, detail: str | None) -> None:
    assert cost(openai, image(1024, 1024, detail)) == 765


def test_a_small_image_is_never_enlarged_and_costs_one_tile(openai: TiktokenCounter) -> None:
    assert cost(openai, image(512, 300, "high")) == 85 + 170


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_every_format_providers_take_is_read_from_its_header(
    openai: TiktokenCounter, image_format: str
) -> None:
    assert cost(openai, image(1024, 1024, "high", image_format)) == 765


def test_a_jpeg_whose_size_lies_past_its_first_bytes_is_read_all_the_same(
    openai: TiktokenCounter,
) -> None:
    out = io.BytesIO()  # a large colour profile comes before the frame header that holds the size
    Image.new("RGB", (1024, 1024)).save(out, format="JPEG", icc_profile=bytes(200_000))
    part = ImagePart(data=base64.b64encode(out.getvalue()).decode("ascii"), media_type="image/jpeg")

    assert cost(openai, Message(role="user", content=(part,))) == 765


# Anthropic's vision guide, "Calculate image costs": its table of sizes and tokens.
@pytest.mark.parametrize(
    ("width", "height", "tokens"), [(200, 200, 54), (1000, 1000, 1334), (1092, 1092, 1590)]
)
def test_anthropics_published_image_examples_cost_what_it_says(
    anthropic: AnthropicCounter, width: int, height: int, tokens: int
) -> None:
    assert cost(anthropic, image(width, height)) == tokens


def test_anthropic_counts_an_image_past_1568_px_as_its_resized_copy() -> None:
    assert anthropic_image_tokens(3000, 300) == anthropic_image_tokens(1568, 156) == 327


def test_anthropic_never_counts_an_image_over_1600_tokens(anthropic: AnthropicCounter) -> None:
    assert cost(anthropic, image(4000, 4000)) == 1600


def test_anthropic_ignores_openais_detail_level(anthropic: AnthropicCounter) -> None:
    assert cost(anthropic, image(1000, 1000, "low")) == 1334


def test_an_image_by_url_costs_the_most_any_image_costs_at_high(openai: TiktokenCounter) -> None:
    part = ImagePart(url="https://example.com/cat.png")

    assert cost(openai, Message(role="user", content=(part,))) == 1445


def test_an_image_by_url_at_low_detail_costs_85(openai: TiktokenCounter) -> None:
    part = ImagePart(url="https://example.com/cat.png", detail="low")

    assert cost(openai, Message(role="user", content=(part,))) == 85


def test_an_image_by_url_costs_anthropics_most(anthropic: AnthropicCounter) -> None:
    part = ImagePart(url="https://example.com/cat.png")

    assert cost(anthropic, Message(role="user", content=(part,))) == 1600


def test_an_attached_image_is_counted_without_its_bytes(openai: TiktokenCounter) -> None:
    stored_apart = Attachment(digest="0" * 64, media_type="image/png", size=5_000_000)
    part = ImagePart(attachment=stored_apart, detail="high")

    assert cost(openai, Message(role="user", content=(part,))) == 1445


def test_bytes_that_are_no_image_cost_the_most_any_image_costs(openai: TiktokenCounter) -> None:
    data = base64.b64encode(b"GIF89a but not really").decode("ascii")
    part = ImagePart(data=data, media_type="image/gif")

    assert cost(openai, Message(role="user", content=(part,))) == 1445


def test_an_images_size_comes_from_its_header_alone(openai: TiktokenCounter) -> None:
    part = ImagePart(data=png_header(1024, 1024), media_type="image/png")  # no pixels at all

    assert cost(openai, Message(role="user", content=(part,))) == 765


@pytest.mark.parametrize(("width", "height"), [(12_000, 10_000), (40_000, 40_000)])
def test_an_image_of_decompression_bomb_size_costs_the_most_and_is_never_decoded(
    openai: TiktokenCounter, width: int, height: int
) -> None:
    part = ImagePart(data=png_header(width, height), media_type="image/png")

    assert cost(openai, Message(role="user", content=(part,))) == 1445


def test_a_bomb_sized_image_costs_the_same_where_the_host_only_shows_pillows_warning(
    openai: TiktokenCounter,
) -> None:
    part = ImagePart(data=png_header(12_000, 10_000), media_type="image/png")

    with pytest.warns(Image.DecompressionBombWarning):
        tokens = cost(openai, Message(role="user", content=(part,)))

    assert tokens == 1445


def test_each_image_of_a_message_is_counted(openai: TiktokenCounter) -> None:
    one = image(1024, 1024, "high")
    two = Message(role="user", content=one.parts + image(100, 100, "low").parts)

    assert cost(openai, two) == 765 + 85


@given(width=SIDES, height=SIDES, detail=DETAILS)
def test_no_openai_image_costs_more_than_the_bound_used_when_its_size_is_unknown(
    width: int, height: int, detail: str | None
) -> None:
    assert 85 <= openai_image_tokens(width, height, detail) <= 1445


@given(width=SIDES, height=SIDES)
def test_a_high_detail_image_costs_85_and_170_a_tile(width: int, height: int) -> None:
    assert (openai_image_tokens(width, height, "high") - 85) % 170 == 0


@given(width=SIDES, height=SIDES)
def test_a_low_detail_image_costs_85_whatever_its_size(width: int, height: int) -> None:
    assert openai_image_tokens(width, height, "low") == 85


@given(width=SIDES, height=SIDES)
def test_no_anthropic_image_costs_more_than_the_bound_used_when_its_size_is_unknown(
    width: int, height: int
) -> None:
    assert 1 <= anthropic_image_tokens(width, height) <= 1600


@given(width=st.integers(1, 1568), height=st.integers(1, 1568))
def test_an_image_within_1568_px_costs_anthropic_its_area_over_750_up_to_1600(
    width: int, height: int
) -> None:
    assert anthropic_image_tokens(width, height) == min(-(-width * height // 750), 1600)
