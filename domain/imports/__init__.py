"""Provider shapes as message fields: OpenAI Chat Completions, OpenAI Responses, Anthropic.

Each import is lossless within its provider: what chatledger models becomes message fields,
parts and tool calls; everything else (ids, statuses, cache controls, fields added next month)
is kept in ``extra``, and the message's ``format`` says whose fields they are. Fields sent as
null count as not sent. ``chatledger.domain.messages`` builds and checks the messages.
"""

from chatledger.domain.imports.anthropic import anthropic_fields
from chatledger.domain.imports.common import Fields, Sourced
from chatledger.domain.imports.openai_chat import RESPONSE_ONLY_FIELDS, openai_fields
from chatledger.domain.imports.responses import default_text_type, responses_fields

__all__ = [
    "Fields",
    "RESPONSE_ONLY_FIELDS",
    "Sourced",
    "anthropic_fields",
    "default_text_type",
    "openai_fields",
    "responses_fields",
]
