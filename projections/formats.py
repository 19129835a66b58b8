"""The renderings' names as they were before the provider renderings moved to their package.

Kept so that code importing ``chatledger.projections.formats`` goes on working; new code
imports ``chatledger.projections.renderings``, which also renders the Responses API and
says what each rendering left out.
"""

from chatledger.projections.renderings import (
    ANTHROPIC_FIRST_USER_TEXT,
    MAX_INPUT_DEPTH,
    AnthropicBlock,
    AnthropicMessage,
    AnthropicParams,
    AnthropicRequest,
    OpenAIFunction,
    OpenAIMessage,
    OpenAIToolCall,
    anthropic_request,
    openai_messages,
    to_anthropic,
    to_openai,
)

__all__ = [
    "ANTHROPIC_FIRST_USER_TEXT",
    "AnthropicBlock",
    "AnthropicMessage",
    "AnthropicParams",
    "AnthropicRequest",
    "MAX_INPUT_DEPTH",
    "OpenAIFunction",
    "OpenAIMessage",
    "OpenAIToolCall",
    "anthropic_request",
    "openai_messages",
    "to_anthropic",
    "to_openai",
]
