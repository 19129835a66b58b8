"""Routes for the memory view: what the model is shown, in four formats, and why."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from chatledger.domain import MAX_POSITION
from chatledger.domain.policies import MAX_TEMPLATE_CHARACTERS
from chatledger.infrastructure.entrypoints.http.access import Conversation, existing_conversation
from chatledger.infrastructure.entrypoints.http.bodies import JSONRoute
from chatledger.infrastructure.entrypoints.http.conversations import PROBLEMS
from chatledger.infrastructure.entrypoints.http.problems import Problem, ProblemError
from chatledger.infrastructure.entrypoints.http.schemas import (
    AnthropicMemory,
    Excluded,
    Explanation,
    MemoryOut,
    OpenAIMemory,
    PromptTextMemory,
    ResponsesMemory,
)
from chatledger.infrastructure.entrypoints.http.service import Service, service
from chatledger.projections import MemoryView, MessageWindow, Policy, SummaryWindow, TokenWindow
from chatledger.projections.prompt_text import DEFAULT_PROMPT_TEMPLATE
from chatledger.projections.renderings import render_anthropic, render_openai, render_responses

router = APIRouter(prefix="/v1/conversations", tags=["memory"], route_class=JSONRoute)

RESPONSES: dict[int | str, dict[str, object]] = {
    **PROBLEMS,
    410: {"model": Problem, "description": "The conversation was erased"},
}


def policy(
    max_tokens: Annotated[
        int | None, Query(ge=1, le=MAX_POSITION, description="Token budget of the request")
    ] = None,
    max_messages: Annotated[
        int | None,
        Query(ge=1, le=MAX_POSITION, description="Message budget, system prompt included"),
    ] = None,
    start_on_user: Annotated[
        bool, Query(description="Drop leading messages until the first is a user message")
    ] = False,
    summaries: Annotated[
        bool,
        Query(
            description="With max_tokens: a summary window, where the newest summary that "
            "helps stands for the oldest messages"
        ),
    ] = False,
) -> Policy:
    """The window policy of the query: exactly one of max_tokens and max_messages."""
    if (max_tokens is None) == (max_messages is None):
        raise ProblemError(
            422,
            "invalid-input",
            "give exactly one of max_tokens and max_messages",
            field="max_tokens",
        )
    if summaries:
        if max_tokens is None:
            raise ProblemError(
                422, "invalid-input", "a summary window needs max_tokens", field="summaries"
            )
        return SummaryWindow(max_tokens=max_tokens, start_on_user=start_on_user)
    if max_tokens is not None:
        return TokenWindow(max_tokens=max_tokens, start_on_user=start_on_user)
    assert max_messages is not None
    return MessageWindow(max_messages=max_messages, start_on_user=start_on_user)


AtQuery = Annotated[
    int | None,
    Query(
        ge=0, le=MAX_POSITION, description="The position to compute the view at; default: newest"
    ),
]


@router.get("/{conversation_id}/memory", responses=RESPONSES)
def memory(
    response: Response,
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    window: Annotated[Policy, Depends(policy)],
    at: AtQuery = None,
    format: Annotated[
        Literal["chatledger", "openai", "responses", "anthropic", "prompt-text"],
        Query(description="chatledger entries, a provider's request messages, or one prompt"),
    ] = "chatledger",
    template: Annotated[
        str | None,
        Query(
            max_length=MAX_TEMPLATE_CHARACTERS,
            description="With format=prompt-text: the prompt, holding {instructions} and "
            "{memory} (default: chatledger's)",
        ),
    ] = None,
) -> MemoryOut | OpenAIMemory | ResponsesMemory | AnthropicMemory | PromptTextMemory:
    """The messages to send to the model next (or as of `at`) under the window policy.

    The `openai` format is the `messages` of a Chat Completions request, `responses` the `input`
    items of a Responses request, `anthropic` the `system` and `messages` of a Messages request;
    each lists in `omitted` what the rendering left out or converted, and why (reasoning of
    another provider, audio Anthropic takes no part for, another format's fields). They answer
    422 `nothing-to-send` when the view holds no user or assistant message (a provider would
    reject the request). The
    `prompt-text` format is the whole view as one system prompt, through `template`. Headers
    give the view's position and token total, which recording the model call needs.
    """
    if template is not None and format != "prompt-text":
        raise ProblemError(422, "invalid-input", "is only for format=prompt-text", field="template")
    view = svc.ledger.memory(conversation.ledger_id, window, at=at)
    response.headers["ChatLedger-Position"] = str(view.position)
    response.headers["ChatLedger-Tokens"] = str(view.tokens)
    if format == "prompt-text":
        prompt = view.as_prompt_text(DEFAULT_PROMPT_TEMPLATE if template is None else template)
        return PromptTextMemory(prompt=prompt)
    if format != "chatledger":
        refuse_unsendable(view)
    if format == "openai":
        chat = render_openai(view.messages, positions=view.message_positions)
        return OpenAIMemory(messages=chat.payload, omitted=list(chat.omitted))
    if format == "responses":
        items = render_responses(view.messages, positions=view.message_positions)
        return ResponsesMemory(items=list(items.payload), omitted=list(items.omitted))
    if format == "anthropic":
        turns = render_anthropic(view.messages, positions=view.message_positions)
        return AnthropicMemory(
            system=turns.payload["system"],
            messages=list(turns.payload["messages"]),
            omitted=list(turns.omitted),
        )
    return memory_out(conversation.id, view)


@router.get("/{conversation_id}/memory/explanation", responses=RESPONSES)
def explanation(
    conversation: Annotated[Conversation, Depends(existing_conversation)],
    svc: Annotated[Service, Depends(service)],
    window: Annotated[Policy, Depends(policy)],
    at: AtQuery = None,
) -> Explanation:
    """The memory view as of `at`, and why each recorded message not in it was left out.

    Reads the whole history up to `at`: for inspecting, not for every model call.
    """
    explained = svc.ledger.explain_memory(conversation.ledger_id, window, at=at)
    return Explanation(
        view=memory_out(conversation.id, explained.view),
        excluded=[
            Excluded(position=position, reason=explained.describe(position))
            for position in explained.excluded
        ],
    )


def refuse_unsendable(view: MemoryView) -> None:
    """422 ``nothing-to-send`` for a view with no user or assistant message: none can send it."""
    if any(not message.is_instruction for message in view.messages):
        return
    field = "max_messages" if isinstance(view.policy, MessageWindow) else "max_tokens"
    if view.over_budget:
        reason = (
            f"the system prompt alone makes a {view.tokens}-token request, over {field}="
            f"{getattr(view.policy, field)}, so no user or assistant message fits: "
            f"raise {field}"
        )
    elif view.policy.start_on_user:
        reason = "no user message starts the window: raise the budget, or leave out start_on_user"
    else:
        reason = "the conversation has no user or assistant message to send yet"
    raise ProblemError(
        422,
        "nothing-to-send",
        f"{reason}; format=chatledger shows the view as it is",
        field=field,
        over_budget=view.over_budget,
        tokens=view.tokens,
    )


def memory_out(conversation: str, view: MemoryView) -> MemoryOut:
    """A memory view in chatledger's own shape."""
    return MemoryOut(
        conversation_id=conversation,
        position=view.position,
        tokens=view.tokens,
        over_budget=view.over_budget,
        policy=view.policy,
        entries=list(view.entries),
        summary=view.summary,
        changes=view.changes,
    )
