"""The command line's parsing of options and JSON lines, without touching a database."""

from __future__ import annotations

import pytest

from chatledger.domain import InvalidInput
from chatledger.infrastructure.entrypoints.cli import (
    build_parser,
    main,
    read_message_lines,
    without_password,
)


def test_json_lines_become_messages_with_their_line_numbers() -> None:
    numbers, messages = read_message_lines(
        ['{"role": "user", "content": "a"}', "", '{"role": "user"}']
    )

    assert numbers == [1, 3]
    assert [message.content for message in messages] == ["a", None]


def test_a_bad_field_is_reported_with_its_line_number() -> None:
    lines = ['{"role": "user"}', '{"role": "tool", "content": "x"}']

    with pytest.raises(InvalidInput) as raised:
        read_message_lines(lines)

    assert raised.value.field == "line 2: tool_call_id"


def test_a_line_that_is_not_an_object_is_reported_with_its_line_number() -> None:
    with pytest.raises(InvalidInput) as raised:
        read_message_lines(['"hello"'])

    assert raised.value.field == "line 1: message"


def test_global_options_may_follow_the_subcommand() -> None:
    args = build_parser().parse_args(["demo", "--db", "memory://", "--json"])

    assert (args.db, args.json) == ("memory://", True)


def test_global_options_before_the_subcommand_are_kept() -> None:
    args = build_parser().parse_args(["--db", "memory://", "--json", "history", "c1"])

    assert (args.db, args.json) == ("memory://", True)


def test_a_window_is_one_of_messages_or_tokens() -> None:
    assert main(["memory", "c1", "--max-messages", "3", "--max-tokens", "9"]) == 2


def test_record_takes_a_role_or_a_file_not_both() -> None:
    assert main(["record", "c1", "--role", "user", "--file", "-"]) == 2


def test_message_options_cannot_be_given_with_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--db", "memory://", "record", "c1", "--file", "-", "--content", "x"])

    assert code == 2
    assert "--content" in capsys.readouterr().err


def test_a_printed_database_url_never_shows_the_password() -> None:
    shown = without_password("postgresql://app:s3cret@db.example:5432/chat?schema=x")

    assert shown == "postgresql://app:***@db.example:5432/chat?schema=x"
