"""Token counting with tiktoken, from verified local encoding files only: nothing is downloaded.

Counts are made once, when a message is recorded, and stored with the counter's name; reading
never counts, so readers need no encoding (:class:`DeferredCounter` loads one on first use).
"""

from chatledger.infrastructure.tokens.counters import (
    AnthropicCounter,
    DeferredCounter,
    Provider,
    TiktokenCounter,
    default_token_counter,
)
from chatledger.infrastructure.tokens.encodings import (
    ENCODINGS,
    TIKTOKEN_DIR_VARIABLE,
    EncodingSpec,
    load_encoding,
)
from chatledger.infrastructure.tokens.media import anthropic_image_tokens, openai_image_tokens
from chatledger.infrastructure.tokens.models import (
    DEFAULT_ENCODING,
    MODEL_ENCODINGS,
    encoding_for_model,
)

__all__ = [
    "AnthropicCounter",
    "DEFAULT_ENCODING",
    "DeferredCounter",
    "ENCODINGS",
    "EncodingSpec",
    "MODEL_ENCODINGS",
    "Provider",
    "TIKTOKEN_DIR_VARIABLE",
    "TiktokenCounter",
    "anthropic_image_tokens",
    "default_token_counter",
    "encoding_for_model",
    "load_encoding",
    "openai_image_tokens",
]
