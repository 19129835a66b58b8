"""Provider renderings: messages as OpenAI Chat Completions, OpenAI Responses and Anthropic
Messages requests, each with what it left out.

Every rendering returns plain JSON data shaped as the provider's published request types,
ready to pass to its SDK. The ``to_*`` functions are typed with the SDKs' own parameter types,
imported for the type checker only: ``messages=view.to_openai()`` passes ``mypy --strict``
with no cast, and nothing here imports an SDK at run time (neither is a dependency; where one
is not installed, its types are Any to the checker). The SDKs' TypedDicts are invariant in
every key, so no TypedDict of ours could match them structurally; ours (``OpenAIMessage``,
``AnthropicRequest``) are what the HTTP schema documents. Tests validate every rendering
against the SDKs' types at run time.

Across providers: reasoning goes only to its own provider (its signature binds it); images
and documents convert where both sides take them; a file id goes only to the provider that
issued it; a refusal goes as text where there is no refusal part; ``developer`` is Anthropic's
system text; extras of another shape stay behind. All of it is listed in ``omitted``.
"""

from chatledger.projections.renderings.anthropic import (
    ANTHROPIC_FIRST_USER_TEXT,
    AnthropicBlock,
    AnthropicMessage,
    AnthropicParams,
    AnthropicRequest,
    anthropic_request,
    render_anthropic,
    to_anthropic,
)
from chatledger.projections.renderings.arguments import MAX_INPUT_DEPTH
from chatledger.projections.renderings.common import Omission, Rendering
from chatledger.projections.renderings.openai_chat import (
    OpenAIFunction,
    OpenAIMessage,
    OpenAIToolCall,
    openai_messages,
    render_openai,
    to_openai,
)
from chatledger.projections.renderings.responses import (
    ResponsesItem,
    render_responses,
    to_responses,
)

__all__ = [
    "ANTHROPIC_FIRST_USER_TEXT",
    "AnthropicBlock",
    "AnthropicMessage",
    "AnthropicParams",
    "AnthropicRequest",
    "MAX_INPUT_DEPTH",
    "Omission",
    "OpenAIFunction",
    "OpenAIMessage",
    "OpenAIToolCall",
    "Rendering",
    "ResponsesItem",
    "anthropic_request",
    "openai_messages",
    "render_anthropic",
    "render_openai",
    "render_responses",
    "to_anthropic",
    "to_openai",
    "to_responses",
]
