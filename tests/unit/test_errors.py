"""One error tree: every error a caller can see is a ChatLedgerError that says what to do."""

from __future__ import annotations

import importlib
import inspect
from datetime import UTC, datetime

import pytest

from chatledger.domain import errors
from chatledger.domain.errors import (
    ChatLedgerError,
    ConversationErased,
    StorageUnavailable,
    UnknownTopic,
    UnreadableEvent,
    WriteContention,
)

PACKAGES = ["chatledger", "chatledger.domain", "chatledger.infrastructure"]


def error_classes_of(module: object) -> list[type[BaseException]]:
    return [
        value
        for name, value in vars(module).items()
        if not name.startswith("_") and inspect.isclass(value) and issubclass(value, BaseException)
    ]


DOMAIN_ERRORS = error_classes_of(errors)


def test_the_errors_module_defines_the_tree() -> None:
    assert len(DOMAIN_ERRORS) > 10


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_every_public_error_of_the_domain_derives_from_chatledger_error(
    error: type[BaseException],
) -> None:
    assert issubclass(error, ChatLedgerError)


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: error.__name__)
def test_every_public_error_of_the_domain_has_a_docstring(error: type[BaseException]) -> None:
    assert error.__doc__
    assert error.__doc__.strip()


@pytest.mark.parametrize("package", PACKAGES)
def test_every_error_a_package_exports_is_defined_in_the_domain_errors_module(
    package: str,
) -> None:
    module = importlib.import_module(package)
    exported = [getattr(module, name) for name in module.__all__]

    foreign = [
        f"{value.__module__}.{value.__name__}"
        for value in exported
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ != errors.__name__
    ]

    assert foreign == []


def test_chatledger_exports_every_error_of_the_tree() -> None:
    chatledger = importlib.import_module("chatledger")

    assert {error.__name__ for error in DOMAIN_ERRORS} <= set(chatledger.__all__)


def test_storage_unavailable_names_the_store_and_says_what_to_check() -> None:
    error = StorageUnavailable("postgresql", "db.internal:5432/app", "connection refused")

    assert "db.internal:5432/app" in str(error)
    assert "connection refused" in str(error)
    assert "retry" in str(error)


def test_write_contention_says_nothing_was_written_and_to_retry() -> None:
    message = str(WriteContention("stream 'calls/c1'"))

    assert "'calls/c1'" in message
    assert "nothing was written" in message
    assert "retry" in message


def test_an_unreadable_event_says_how_to_find_every_break() -> None:
    error = UnreadableEvent("conversation 'c1' has no message at position 3")

    assert error.problem == "conversation 'c1' has no message at position 3"
    assert "chatledger verify" in str(error)


def test_an_unknown_topic_is_an_unreadable_event_that_says_to_upgrade() -> None:
    error = UnknownTopic("chatledger:Conversation.Forked")

    assert isinstance(error, UnreadableEvent)
    assert "Upgrade chatledger" in str(error)


def test_an_erased_conversation_says_when_and_where_to_go_on() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    message = str(ConversationErased("c1", at))

    assert "2026-01-02T03:04:05+00:00" in message
    assert "new conversation" in message
