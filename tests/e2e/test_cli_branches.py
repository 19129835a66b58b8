"""`chatledger fork`, `edit`, `regenerate`, `branches` and `siblings`, as a user drives them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import Result, run
from tests.e2e.test_cli import record

WIDE = {"COLUMNS": "200"}


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding trip: a system prompt and two turns, positions 1..5."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    record(
        tmp_path,
        url,
        "trip",
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "Lisbon in May?"},
        {"role": "assistant", "content": "Warm and dry."},
        {"role": "user", "content": "And Porto?"},
        {"role": "assistant", "content": "Cooler, some rain."},
    )
    return url


def cli(tmp_path: Path, db: str, *args: str, stdin: str | None = None) -> Result:
    return run("--db", db, *args, cwd=tmp_path, stdin=stdin, env=WIDE)


def ok(result: Result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def texts(tmp_path: Path, db: str, conversation: str) -> list[str]:
    lines = ok(cli(tmp_path, db, "history", conversation, "--json")).splitlines()
    return [json.loads(line)["message"]["content"] for line in lines]


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ok(result).splitlines()]


def tree(tmp_path: Path, db: str, conversation: str = "trip") -> list[str]:
    listed = json_lines(cli(tmp_path, db, "branches", conversation, "--json"))
    return [branch["conversation_id"] for branch in listed]


def refused(result: Result, field: str) -> None:
    assert result.returncode == 2
    assert f"error: {field}: " in result.stderr
    assert result.stdout == ""


# fork


def test_fork_prints_the_branch_id_and_the_branch_continues_after_the_fork_point(
    tmp_path: Path, db: str
) -> None:
    branch = ok(cli(tmp_path, db, "fork", "trip", "--at", "3")).strip()
    ok(cli(tmp_path, db, "record", branch, "--role", "user", "--content", "And Madrid?"))

    assert texts(tmp_path, db, branch) == [
        "You plan trips.", "Lisbon in May?", "Warm and dry.", "And Madrid?",
    ]  # fmt: skip
    assert texts(tmp_path, db, "trip")[3:] == ["And Porto?", "Cooler, some rain."]


def test_fork_with_json_prints_the_branch_its_parent_and_fork_point(
    tmp_path: Path, db: str
) -> None:
    forked = cli(tmp_path, db, "fork", "trip", "--at", "2", "--new-id", "alt", "--json")

    printed = json.loads(ok(forked))

    assert printed == {"conversation_id": "alt", "parent": "trip", "fork_point": 2}
    assert texts(tmp_path, db, "alt") == ["You plan trips.", "Lisbon in May?"]


@pytest.mark.parametrize("at", ["6", "-1"])
def test_a_fork_point_outside_the_history_exits_2_naming_at_and_writes_nothing(
    tmp_path: Path, db: str, at: str
) -> None:
    result = cli(tmp_path, db, "fork", "trip", "--at", at)

    refused(result, "at")
    assert tree(tmp_path, db) == ["trip"]


def test_a_fork_point_that_is_not_a_number_exits_2_naming_the_option(
    tmp_path: Path, db: str
) -> None:
    result = cli(tmp_path, db, "fork", "trip", "--at", "three")

    assert result.returncode == 2
    assert "argument --at: invalid int value: 'three'" in result.stderr
    assert tree(tmp_path, db) == ["trip"]


def test_a_new_id_already_in_use_exits_2_naming_new_id(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "other", {"role": "user", "content": "hi"})

    result = cli(tmp_path, db, "fork", "trip", "--at", "1", "--new-id", "other")

    refused(result, "new_id")
    assert "'other' already names a conversation" in result.stderr
    assert tree(tmp_path, db) == ["trip"]


def test_forking_a_conversation_never_recorded_exits_1_and_writes_nothing(
    tmp_path: Path, db: str
) -> None:
    result = cli(tmp_path, db, "fork", "nowhere", "--at", "0", "--new-id", "n2")

    assert result.returncode == 1
    assert "conversation 'nowhere' has no recorded messages" in result.stderr
    assert cli(tmp_path, db, "history", "n2").returncode == 1


def test_forking_an_erased_conversation_exits_1_saying_so(tmp_path: Path, db: str) -> None:
    ok(cli(tmp_path, db, "erase", "trip", "--reason", "asked"))

    result = cli(tmp_path, db, "fork", "trip", "--at", "1")

    assert result.returncode == 1
    assert "erased" in result.stderr
    assert result.stdout == ""


def test_branch_commands_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"

    result = cli(tmp_path, f"sqlite:///{missing}", "fork", "trip", "--at", "1")

    refused(result, "--db")
    assert not missing.exists()


# edit and regenerate


def test_edit_records_the_new_message_at_the_position_on_a_branch(tmp_path: Path, db: str) -> None:
    branch = ok(cli(tmp_path, db, "edit", "trip", "4", "--content", "And Seville?")).strip()

    assert texts(tmp_path, db, branch)[2:] == ["Warm and dry.", "And Seville?"]
    assert texts(tmp_path, db, "trip")[3] == "And Porto?"


def test_edit_with_json_prints_the_branch_and_the_entry_it_recorded(
    tmp_path: Path, db: str
) -> None:
    options = ("--content", "Hot.", "--role", "assistant", "--new-id", "hot", "--json")
    edited = cli(tmp_path, db, "edit", "trip", "3", *options)

    printed = json.loads(ok(edited))

    assert (printed["conversation_id"], printed["parent"], printed["fork_point"]) == (
        "hot", "trip", 2,
    )  # fmt: skip
    assert printed["entry"]["position"] == 3
    assert printed["entry"]["message"]["role"] == "assistant"
    assert printed["entry"]["message"]["content"] == "Hot."


def test_edit_takes_one_message_as_a_json_object_from_a_file(tmp_path: Path, db: str) -> None:
    message = {"role": "user", "name": "ana", "content": "And Faro?", "metadata": {"via": "ui"}}
    (tmp_path / "message.json").write_text(json.dumps(message, indent=2))

    branch = ok(cli(tmp_path, db, "edit", "trip", "4", "--file", "message.json")).strip()

    (entry,) = json_lines(cli(tmp_path, db, "history", branch, "--after", "3", "--json"))
    assert entry["message"]["name"] == "ana"
    assert entry["message"]["metadata"] == {"via": "ui"}


def test_edit_reads_the_message_from_stdin_given_a_dash(tmp_path: Path, db: str) -> None:
    stdin = json.dumps({"role": "assistant", "content": "Dry and hot."})

    branch = ok(cli(tmp_path, db, "edit", "trip", "5", "--file", "-", stdin=stdin)).strip()

    assert texts(tmp_path, db, branch)[-1] == "Dry and hot."


@pytest.mark.parametrize(
    ("stdin", "field", "problem"),
    [
        ('{"role": "user", "content": "a"}\n{"role": "user", "content": "b"}\n', "file",
         "holds more than one JSON value: edit takes one message"),
        ("{not json", "file", "is not valid JSON"),
        ('{"role": "user", "content": "a", "colour": "red"}', "file: colour",
         "is not a message field"),
        ('{"role": "robot", "content": "a"}', "file: role", "must be one of"),
    ],
)  # fmt: skip
def test_an_edit_file_that_is_not_one_message_exits_2_and_writes_nothing(
    tmp_path: Path, db: str, stdin: str, field: str, problem: str
) -> None:
    result = cli(tmp_path, db, "edit", "trip", "4", "--file", "-", stdin=stdin)

    refused(result, field)
    assert problem in result.stderr
    assert tree(tmp_path, db) == ["trip"]


def test_an_edit_repeating_a_message_the_branch_would_share_exits_2_naming_its_id(
    tmp_path: Path, db: str
) -> None:
    (first, *_) = json_lines(cli(tmp_path, db, "history", "trip", "--json"))
    stdin = json.dumps(first["message"])

    result = cli(tmp_path, db, "edit", "trip", "4", "--file", "-", stdin=stdin)

    refused(result, "message.id")
    assert "is already recorded at position 1" in result.stderr
    assert tree(tmp_path, db) == ["trip"]


def test_an_edit_reusing_a_shared_id_for_other_content_exits_1_and_leaves_no_branch(
    tmp_path: Path, db: str
) -> None:
    (first, *_) = json_lines(cli(tmp_path, db, "history", "trip", "--json"))
    stdin = json.dumps({"id": first["message"]["id"], "role": "user", "content": "Faro?"})

    result = cli(tmp_path, db, "edit", "trip", "4", "--file", "-", stdin=stdin)

    assert result.returncode == 1
    assert "with different content; give the new message a new id" in result.stderr
    assert tree(tmp_path, db) == ["trip"]


def test_an_edit_with_a_bad_role_exits_2_naming_the_role_and_writes_nothing(
    tmp_path: Path, db: str
) -> None:
    result = cli(tmp_path, db, "edit", "trip", "4", "--content", "x", "--role", "robot")

    refused(result, "role")
    assert tree(tmp_path, db) == ["trip"]


def test_an_edit_over_the_content_limit_exits_2_and_leaves_no_branch(
    tmp_path: Path, db: str
) -> None:
    stdin = json.dumps({"role": "user", "content": "x" * (1024 * 1024 + 1)})

    result = cli(tmp_path, db, "edit", "trip", "4", "--file", "-", stdin=stdin)

    refused(result, "message.content")
    assert tree(tmp_path, db) == ["trip"]


@pytest.mark.parametrize("position", ["0", "6"])
def test_editing_outside_the_history_exits_2_naming_the_position(
    tmp_path: Path, db: str, position: str
) -> None:
    result = cli(tmp_path, db, "edit", "trip", position, "--content", "x")

    refused(result, "position")
    assert tree(tmp_path, db) == ["trip"]


def test_edit_refuses_role_beside_file(tmp_path: Path, db: str) -> None:
    stdin = json.dumps({"role": "user", "content": "a"})

    result = cli(tmp_path, db, "edit", "trip", "4", "--file", "-", "--role", "user", stdin=stdin)

    refused(result, "--role")
    assert tree(tmp_path, db) == ["trip"]


def test_regenerate_forks_just_before_the_reply_for_another_to_be_recorded(
    tmp_path: Path, db: str
) -> None:
    branch = ok(cli(tmp_path, db, "regenerate", "trip", "5", "--new-id", "again")).strip()
    ok(cli(tmp_path, db, "record", "again", "--role", "assistant", "--content", "Mild."))

    assert branch == "again"
    assert texts(tmp_path, db, "again")[-2:] == ["And Porto?", "Mild."]


def test_regenerating_past_the_history_exits_2_naming_the_position(tmp_path: Path, db: str) -> None:
    result = cli(tmp_path, db, "regenerate", "trip", "7")

    refused(result, "position")
    assert tree(tmp_path, db) == ["trip"]


# branches and siblings


@pytest.fixture
def grown(tmp_path: Path, db: str) -> str:
    """trip with two replies regenerated at 5 (one of them recorded) and a fork of a fork."""
    ok(cli(tmp_path, db, "regenerate", "trip", "5", "--new-id", "mild"))
    ok(cli(tmp_path, db, "record", "mild", "--role", "assistant", "--content", "Mild."))
    ok(cli(tmp_path, db, "regenerate", "trip", "5", "--new-id", "later"))
    ok(cli(tmp_path, db, "fork", "mild", "--at", "5", "--new-id", "deeper"))
    return db


def test_branches_lists_the_tree_as_json_lines_root_first_in_creation_order(
    tmp_path: Path, grown: str
) -> None:
    listed = json_lines(cli(tmp_path, grown, "branches", "deeper", "--json"))

    assert [(b["conversation_id"], b["parent"], b["fork_point"], b["length"]) for b in listed] == [
        ("trip", None, 0, 5),
        ("mild", "trip", 4, 5),
        ("later", "trip", 4, 4),
        ("deeper", "mild", 5, 5),
    ]


def test_branches_shows_each_branch_under_its_parent_and_marks_the_one_asked_about(
    tmp_path: Path, grown: str
) -> None:
    shown = ok(cli(tmp_path, grown, "branches", "mild"))

    rows = [line for line in shown.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]
    assert [row[:4] for row in cells] == [
        ["trip", "", "", "5"],
        ["└─mild *", "trip", "4", "5"],
        ["└─deeper", "mild", "5", "5"],
        ["└─later", "trip", "4", "4"],
    ]
    assert "tree of mild" in shown


def test_siblings_numbers_the_alternatives_and_marks_the_one_shown(
    tmp_path: Path, grown: str
) -> None:
    shown = ok(cli(tmp_path, grown, "siblings", "deeper", "5"))

    rows = [line for line in shown.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")][:2] for row in rows]
    assert cells == [["1/3", "trip"], ["2/3", "mild *"], ["3/3", "later"]]
    assert "deeper at position 5: 3 alternatives" in shown


def test_siblings_as_json_lines_say_which_is_current(tmp_path: Path, grown: str) -> None:
    listed = json_lines(cli(tmp_path, grown, "siblings", "trip", "5", "--json"))

    assert [(s["number"], s["conversation_id"], s["current"]) for s in listed] == [
        (1, "trip", True),
        (2, "mild", False),
        (3, "later", False),
    ]


def test_siblings_past_the_next_position_exits_2_naming_the_position(
    tmp_path: Path, db: str
) -> None:
    refused(cli(tmp_path, db, "siblings", "trip", "7"), "position")


def test_branches_of_a_conversation_never_recorded_exits_1(tmp_path: Path, db: str) -> None:
    result = cli(tmp_path, db, "branches", "nowhere")

    assert result.returncode == 1
    assert "conversation 'nowhere' has no recorded messages" in result.stderr


def test_erasing_the_parent_of_a_held_branch_exits_1_and_erases_nothing(
    tmp_path: Path, grown: str
) -> None:
    ok(cli(tmp_path, grown, "retention", "deeper", "--hold", "case 17"))

    result = cli(tmp_path, grown, "erase", "mild", "--reason", "asked")

    assert result.returncode == 1
    assert "deeper" in result.stderr
    assert texts(tmp_path, grown, "deeper")[-1] == "Mild."


# tenants


def test_under_a_tenant_ids_go_in_and_come_out_as_the_tenant_s(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    acme = ("--db", db, "--tenant", "acme")
    ok(run(*acme, "record", "trip", "--role", "user", "--content", "hi", cwd=tmp_path))

    named = ok(run(*acme, "fork", "trip", "--at", "1", "--new-id", "alt", cwd=tmp_path))
    unnamed = ok(run(*acme, "regenerate", "trip", "1", cwd=tmp_path)).strip()
    listed = json_lines(run(*acme, "branches", "alt", "--json", cwd=tmp_path))

    assert named == "alt\n"
    assert ":" not in unnamed
    assert [(b["conversation_id"], b["parent"]) for b in listed] == [
        ("trip", None), ("alt", "trip"), (unnamed, "trip"),
    ]  # fmt: skip
    stored = json_lines(run("--db", db, "branches", "acme:trip", "--json", cwd=tmp_path))
    assert [b["conversation_id"] for b in stored] == ["acme:trip", "acme:alt", f"acme:{unnamed}"]


def test_under_a_tenant_a_new_id_that_is_not_a_tenant_s_id_exits_2_naming_new_id(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    acme = ("--db", db, "--tenant", "acme")
    ok(run(*acme, "record", "trip", "--role", "user", "--content", "hi", cwd=tmp_path))

    result = run(*acme, "fork", "trip", "--at", "1", "--new-id", "beta:trip", cwd=tmp_path)

    refused(result, "new_id")
    listed = json_lines(run(*acme, "branches", "trip", "--json", cwd=tmp_path))
    assert [b["conversation_id"] for b in listed] == ["trip"]
