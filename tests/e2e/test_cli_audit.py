"""Auditors' commands driven as a user would: verify, checkpoint, audit, erase, export, import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_cli import chatledger, json_lines, record


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding conversation c1 with three messages."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    record(
        tmp_path,
        url,
        "c1",
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "secret-token-42 is my code"},
        {"role": "assistant", "content": "Noted."},
    )
    return url


def tamper(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "x.db") as conn:
        (state,) = conn.execute(
            "SELECT state FROM stored_events WHERE originator_id='c1' AND originator_version=3"
        ).fetchone()
        data = json.loads(state)
        data["tokens"] += 1
        conn.execute(
            "UPDATE stored_events SET state=? WHERE originator_id='c1' AND originator_version=3",
            (json.dumps(data).encode(),),
        )


def test_verify_passes_on_an_untouched_store(tmp_path: Path, db: str) -> None:
    result = chatledger("--db", db, "verify", "--all", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout


def test_verify_exits_non_zero_and_names_the_break(tmp_path: Path, db: str) -> None:
    tamper(tmp_path)

    result = chatledger("--db", db, "--json", "verify", "c1", cwd=tmp_path)

    assert result.returncode == 1
    assert [(b["conversation_id"], b["position"]) for b in json.loads(result.stdout)["breaks"]] == [
        ("c1", 2)
    ]


def test_a_checkpoint_catches_a_deleted_tail(tmp_path: Path, db: str) -> None:
    saved = chatledger("--db", db, "checkpoint", cwd=tmp_path)
    (tmp_path / "heads.json").write_text(saved.stdout)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        conn.execute("DELETE FROM stored_events WHERE originator_id='c1' AND originator_version=4")

    result = chatledger("--db", db, "verify", "--all", "--checkpoint", "heads.json", cwd=tmp_path)

    assert result.returncode == 1
    assert "c1 position 3" in result.stdout


def test_audit_marks_what_the_model_saw_for_each_recorded_call(tmp_path: Path) -> None:
    demo = chatledger("--db", f"sqlite:///{tmp_path / 'd.db'}", "--json", "demo", cwd=tmp_path)
    conversation = json.loads(demo.stdout)["conversation_id"]

    result = chatledger(
        "--db", f"sqlite:///{tmp_path / 'd.db'}", "--json", "audit", conversation, cwd=tmp_path
    )

    (call,) = json_lines(result)
    assert result.returncode == 0, result.stderr
    assert call["replay_identical"] is True
    assert set(call["excluded"].values()) == {
        "replaced system prompt",
        "evicted by the window",
        "unanswered tool call",
        "orphaned tool result",
    }


def test_erase_leaves_roles_and_no_content(tmp_path: Path, db: str) -> None:
    erased = chatledger("--db", db, "erase", "c1", "--reason", "gdpr", cwd=tmp_path)

    history = chatledger("--db", db, "--json", "history", "c1", cwd=tmp_path)

    assert erased.returncode == 0, erased.stderr
    assert [e["message"]["role"] for e in json_lines(history)] == ["system", "user", "assistant"]
    assert "secret-token-42" not in history.stdout


def test_export_then_import_twice_records_once(tmp_path: Path, db: str) -> None:
    exported = chatledger("--db", db, "export", "--all", cwd=tmp_path)
    (tmp_path / "dump.jsonl").write_text(exported.stdout)
    target = f"sqlite:///{tmp_path / 'target.db'}"

    first = chatledger("--db", target, "--json", "import", "dump.jsonl", cwd=tmp_path)
    second = chatledger("--db", target, "--json", "import", "dump.jsonl", cwd=tmp_path)

    assert json.loads(first.stdout)["recorded"] == 3
    assert (json.loads(second.stdout)["recorded"], json.loads(second.stdout)["unchanged"]) == (0, 3)


def test_a_restored_export_verifies_against_the_sources_checkpoint(
    tmp_path: Path, db: str, postgres_url: str
) -> None:
    (tmp_path / "heads.json").write_text(chatledger("--db", db, "checkpoint", cwd=tmp_path).stdout)
    exported = chatledger("--db", db, "export", "--all", cwd=tmp_path)
    (tmp_path / "dump.jsonl").write_text(exported.stdout)

    restored = chatledger("--db", postgres_url, "import", "dump.jsonl", cwd=tmp_path)
    result = chatledger(
        "--db", postgres_url, "verify", "--all", "--checkpoint", "heads.json", cwd=tmp_path
    )

    assert restored.returncode == 0, restored.stderr
    assert "3 with their original times and chain" in restored.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "intact" in result.stdout


def test_an_export_line_edited_after_export_is_refused(tmp_path: Path, db: str) -> None:
    lines = chatledger("--db", db, "export", "c1", cwd=tmp_path).stdout.splitlines()
    lines[1] = lines[1].replace("secret-token-42", "secret-token-43")
    (tmp_path / "edited.jsonl").write_text("\n".join(lines))
    target = f"sqlite:///{tmp_path / 'target.db'}"

    result = chatledger("--db", target, "import", "edited.jsonl", cwd=tmp_path)
    history = chatledger("--db", target, "--json", "history", "c1", cwd=tmp_path)

    assert result.returncode == 2
    assert "line 2: message" in result.stderr
    assert "changed after export" in result.stderr
    assert history.stdout == ""


def test_import_of_a_malformed_line_names_it_and_records_nothing(tmp_path: Path, db: str) -> None:
    lines = chatledger("--db", db, "export", "c1", cwd=tmp_path).stdout.splitlines()
    lines[1] = "{not json"
    (tmp_path / "bad.jsonl").write_text("\n".join(lines))
    target = f"sqlite:///{tmp_path / 'target.db'}"

    result = chatledger("--db", target, "import", "bad.jsonl", cwd=tmp_path)
    history = chatledger("--db", target, "--json", "history", "c1", cwd=tmp_path)

    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert history.stdout == ""


def test_retention_apply_erases_past_retention_but_respects_a_hold(tmp_path: Path, db: str) -> None:
    record(tmp_path, db, "c2", {"role": "user", "content": "keep me"})
    for conversation in ("c1", "c2"):
        chatledger("--db", db, "retention", conversation, "--set", "1d", cwd=tmp_path)
    chatledger("--db", db, "retention", "c2", "--hold", "litigation", cwd=tmp_path)

    result = chatledger(
        "--db", db, "--json", "retention", "--apply", "--now", "2100-01-01T00:00:00+00:00",
        cwd=tmp_path,
    )  # fmt: skip

    assert json.loads(result.stdout) == {
        "applied": True,
        "erased": ["c1"],
        "held": [["c2", "litigation"]],
    }


def test_a_bad_retention_duration_is_named(tmp_path: Path, db: str) -> None:
    result = chatledger("--db", db, "retention", "c1", "--set", "forever", cwd=tmp_path)

    assert result.returncode == 2
    assert "--set" in result.stderr


def test_tenant_add_prints_a_key_once_with_options_before_or_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"

    before = chatledger("--db", url, "tenant", "add", "acme", cwd=tmp_path)
    after = chatledger("tenant", "add", "beta", "--db", url, cwd=tmp_path)

    assert (before.returncode, after.returncode) == (0, 0)
    assert before.stdout.startswith("cl_")
    assert after.stdout.startswith("cl_")
    assert before.stdout != after.stdout
