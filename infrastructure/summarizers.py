"""Summarizers: the ``Summarizer`` port, implemented over any OpenAI-compatible chat endpoint.

The ``openai`` SDK is an optional dependency (``pip install 'chatledger[summarize]'``), imported
only when an ``OpenAISummarizer`` is built. Nothing here records anything: a summarizer only
returns text, and ``ChatLedger.compact`` decides what becomes of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from chatledger.domain import InvalidInput, Message, SummarizerUnavailable, check_text
from chatledger.domain.policies import check_template
from chatledger.projections.prompt_text import line

DEFAULT_SUMMARIZER_TEMPLATE = """\
You keep the memory of a conversation between a user and an assistant. Write a summary that \
the assistant can rely on instead of the messages it stands for: names, facts, figures, \
decisions, what each tool returned, and what is still open. Leave out greetings and \
repetition. Reply with the summary alone.

The summary so far:
{previous}

The messages since, oldest first:
{messages}"""
"""The prompt an ``OpenAISummarizer`` sends unless given its own: ``{previous}`` is the summary
being extended, ``{messages}`` the messages since, one role-prefixed line each."""
NO_PREVIOUS = "(none yet: this is the first summary)"
"""What ``{previous}`` says when there is no summary to extend."""
SUMMARIZER_FIELDS = frozenset({"previous", "messages"})
API_KEY_VARIABLE = "OPENAI_API_KEY"
NO_KEY = "not-needed"
"""The key sent when none is given or set: local servers (vLLM, Ollama, llama.cpp) ask none."""


class OpenAISummarizer:
    """Summarizes through any OpenAI-compatible Chat Completions endpoint, with the openai SDK.

    One request a summary: ``template`` rendered with the previous summary and the messages
    since, sent as the one user message to ``model`` at ``base_url``; the reply's text is the
    summary. The SDK's own errors and timeouts reach ``compact``, which records nothing then.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        template: str = DEFAULT_SUMMARIZER_TEMPLATE,
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        """Args:
        base_url: the endpoint's base, as the SDK takes it (``https://api.openai.com/v1``,
            ``http://localhost:11434/v1``).
        api_key: the key to send; else $OPENAI_API_KEY; else a placeholder no local
            server checks.
        template: the prompt, holding ``{previous}`` and ``{messages}``.
        timeout: seconds the SDK waits for each attempt; max_retries: its retries.
        """
        check_text("base_url", base_url)
        check_text("model", model)
        if not model:
            raise InvalidInput("model", "must name the model to call")
        try:
            check_template(template, SUMMARIZER_FIELDS, required=("previous", "messages"))
        except ValueError as exc:
            raise InvalidInput("template", str(exc)) from None
        try:
            import openai
        except ImportError:
            raise SummarizerUnavailable(
                "OpenAISummarizer needs the openai package: pip install 'chatledger[summarize]'"
            ) from None
        self.model = model
        """The model asked for each summary; ``compact`` records it with the summary."""
        self.template = template
        key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE) or NO_KEY
        self._client = openai.OpenAI(
            base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries
        )

    def prompt(self, previous: str | None, messages: Sequence[Message]) -> str:
        """The user message a summary is asked for with."""
        return self.template.format(
            previous=NO_PREVIOUS if previous is None else previous,
            messages="\n".join(line(message) for message in messages),
        )

    def __call__(self, previous: str | None, messages: Sequence[Message], /) -> str:
        """Ask the model for the summary; its reply's text (empty if it gave none)."""
        completion: Any = self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": self.prompt(previous, messages)}],
        )
        if not completion.choices:
            return ""
        content = completion.choices[0].message.content
        return content if isinstance(content, str) else ""

    def close(self) -> None:
        """Close the SDK's connections."""
        self._client.close()
