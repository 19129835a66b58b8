"""Branches over real HTTP, on SQLite and PostgreSQL: fork, edit, regenerate, the tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_http import HTTP_BACKENDS, assert_problem, store_url
from tests.e2e.test_http_server import Running, running

TRIP = "/v1/conversations/trip"
TURN = {
    "messages": [
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "Lisbon in May?"},
        {"role": "assistant", "content": "Warm and dry."},
        {"role": "user", "content": "And Porto?"},
        {"role": "assistant", "content": "Cooler, some rain."},
    ]
}
"""Positions 1..5."""


@pytest.fixture(params=HTTP_BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Running]:
    with running(store_url(request, tmp_path), writes_per_second=None) as server:
        yield server


@pytest.fixture
def acme(served: Running) -> Iterator[httpx.Client]:
    with served.client("acme") as client:
        recorded = client.post(f"{TRIP}/messages", json=TURN)
        assert recorded.status_code == 201, recorded.text
        yield client


def texts(client: httpx.Client, conversation: str) -> list[str]:
    page = client.get(f"/v1/conversations/{conversation}/history")
    assert page.status_code == 200, page.text
    return [entry["message"]["content"] for entry in page.json()["entries"]]


def tree(served: Running) -> list[str]:
    """Every conversation of the trip's tree, by the ledger's ids: what refusals leave alone."""
    return [branch.conversation_id for branch in served.ledger.branches("acme:trip")]


def test_a_fork_answers_201_with_the_branch_in_the_tenant_s_own_ids(acme: httpx.Client) -> None:
    forked = acme.post(f"{TRIP}/fork", json={"at": 3})

    assert forked.status_code == 201, forked.text
    branch = forked.json()
    assert ":" not in branch["conversation_id"]
    assert (branch["parent"], branch["fork_point"], branch["length"]) == ("trip", 3, 3)
    assert forked.headers["location"] == f"/v1/conversations/{branch['conversation_id']}/history"
    assert texts(acme, branch["conversation_id"]) == texts(acme, "trip")[:3]


def test_a_branch_records_its_own_messages_after_the_fork_point(acme: httpx.Client) -> None:
    branch = acme.post(f"{TRIP}/fork", json={"at": 3}).json()["conversation_id"]

    recorded = acme.post(
        f"/v1/conversations/{branch}/messages", json={"role": "user", "content": "And Madrid?"}
    )

    assert recorded.json()["entries"][0]["position"] == 4
    assert texts(acme, branch)[3:] == ["And Madrid?"]
    assert texts(acme, "trip")[3] == "And Porto?"


def test_a_fork_takes_the_name_it_is_given_within_the_tenant(
    acme: httpx.Client, served: Running
) -> None:
    forked = acme.post(f"{TRIP}/fork", json={"at": 2, "new_id": "trip-b"})

    assert forked.json()["conversation_id"] == "trip-b"
    assert served.ledger.version("acme:trip-b") == 2


def test_edit_records_the_new_message_on_a_branch_and_keeps_the_old(acme: httpx.Client) -> None:
    edited = acme.post(
        f"{TRIP}/edit", json={"position": 4, "message": {"role": "user", "content": "Seville?"}}
    )

    assert edited.status_code == 201, edited.text
    branch = edited.json()
    assert (branch["fork_point"], branch["length"]) == (3, 4)
    assert texts(acme, branch["conversation_id"])[3:] == ["Seville?"]
    assert texts(acme, "trip")[3:] == ["And Porto?", "Cooler, some rain."]


def test_regenerate_forks_before_the_reply_for_another_one(acme: httpx.Client) -> None:
    regenerated = acme.post(f"{TRIP}/regenerate", json={"position": 5})
    branch = regenerated.json()["conversation_id"]
    acme.post(f"/v1/conversations/{branch}/messages", json={"role": "assistant", "content": "Hot."})

    assert regenerated.status_code == 201, regenerated.text
    assert regenerated.json()["length"] == 4
    assert texts(acme, branch)[-2:] == ["And Porto?", "Hot."]


def test_a_branch_forked_before_its_first_message_reads_as_empty(acme: httpx.Client) -> None:
    branch = acme.post(f"{TRIP}/regenerate", json={"position": 1}).json()["conversation_id"]

    history = acme.get(f"/v1/conversations/{branch}/history")
    listed = acme.get(f"/v1/conversations/{branch}/branches")

    assert (history.status_code, history.json()["entries"]) == (200, [])
    assert listed.status_code == 200, listed.text


def test_clearing_a_branch_before_its_first_message_is_409_not_a_server_error(
    acme: httpx.Client,
) -> None:
    branch = acme.post(f"{TRIP}/regenerate", json={"position": 1}).json()["conversation_id"]

    cleared = acme.post(f"/v1/conversations/{branch}/clear")
    retracted = acme.post(f"/v1/conversations/{branch}/retract", json={"position": 1})

    assert_problem(cleared, 409)
    assert_problem(retracted, 422, "position")
    assert acme.get(f"/v1/conversations/{branch}/memory-changes").json()["changes"] == []


def test_branches_lists_the_tree_with_parents_and_fork_points(acme: httpx.Client) -> None:
    first = acme.post(f"{TRIP}/regenerate", json={"position": 5}).json()["conversation_id"]
    second = acme.post(
        f"/v1/conversations/{first}/edit",
        json={"position": 4, "message": {"role": "user", "content": "Faro?"}},
    ).json()["conversation_id"]

    listed = acme.get(f"/v1/conversations/{second}/branches")

    assert listed.status_code == 200, listed.text
    assert listed.json()["conversation_id"] == second
    shown = [(b["conversation_id"], b["parent"], b["fork_point"], b["length"]) for b in
             listed.json()["branches"]]  # fmt: skip
    assert shown == [("trip", None, 0, 5), (first, "trip", 4, 4), (second, first, 3, 4)]


def test_siblings_number_the_alternatives_at_a_position(acme: httpx.Client) -> None:
    edits = [
        acme.post(
            f"{TRIP}/edit", json={"position": 4, "message": {"role": "user", "content": text}}
        ).json()["conversation_id"]
        for text in ("Seville?", "Faro?")
    ]

    shown = acme.get(f"/v1/conversations/{edits[0]}/siblings", params={"position": 4})
    before = acme.get(f"{TRIP}/siblings", params={"position": 3})

    assert shown.status_code == 200, shown.text
    siblings = shown.json()["siblings"]
    assert [s["conversation_id"] for s in siblings] == ["trip", *edits]
    assert [s["number"] for s in siblings] == [1, 2, 3]
    assert [s["current"] for s in siblings] == [False, True, False]
    assert [s["conversation_id"] for s in before.json()["siblings"]] == ["trip"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("fork", {"at": 6}, "at"),  # past the history
        ("fork", {"at": -1}, "at"),
        ("fork", {"at": "2"}, "at"),  # strict: a string is no position
        ("fork", {"at": 2.0}, "at"),
        ("fork", {"at": True}, "at"),
        ("fork", {"at": 2**60}, "at"),
        ("fork", {}, "at"),
        ("fork", {"at": 2, "new_id": "trip"}, "new_id"),  # taken
        ("fork", {"at": 2, "new_id": "bad:id"}, "new_id"),
        ("fork", {"at": 2, "new_id": ""}, "new_id"),
        ("fork", {"at": 2, "extra": 1}, "extra"),
        ("edit", {"position": 6, "message": {"role": "user", "content": "?"}}, "position"),
        ("edit", {"position": 0, "message": {"role": "user", "content": "?"}}, "position"),
        ("edit", {"position": "4", "message": {"role": "user", "content": "?"}}, "position"),
        ("edit", {"position": 4}, "message"),
        ("edit", {"position": 4, "message": {"role": "robot", "content": "?"}}, "message.role"),
        ("regenerate", {"position": 7}, "position"),  # 6 is the next reply's: allowed
        ("regenerate", {"position": None}, "position"),
        ("regenerate", {"position": 5, "new_id": "x" * 101}, "new_id"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    acme: httpx.Client, served: Running, path: str, body: dict[str, object], field: str
) -> None:
    refused = acme.post(f"{TRIP}/{path}", json=body)

    assert_problem(refused, 422, field)
    assert tree(served) == ["acme:trip"]
    assert [r.conversation_id for r in served.ledger.conversations()] == ["acme:trip"]


@pytest.mark.parametrize("query", ["", "?position=0", "?position=7", "?position=x"])
def test_siblings_past_the_history_or_without_a_position_is_422(
    acme: httpx.Client, query: str
) -> None:
    assert_problem(acme.get(f"{TRIP}/siblings{query}"), 422, "position")


def test_regenerating_the_next_reply_answers_beside_the_branch_waiting_for_it(
    acme: httpx.Client,
) -> None:
    waiting = acme.post(f"{TRIP}/regenerate", json={"position": 5}).json()["conversation_id"]

    other = acme.post(f"/v1/conversations/{waiting}/regenerate", json={"position": 5})
    shown = acme.get(f"/v1/conversations/{waiting}/siblings", params={"position": 5})

    assert other.status_code == 201, other.text
    listed = [s["conversation_id"] for s in shown.json()["siblings"]]
    assert listed == ["trip", waiting, other.json()["conversation_id"]]


def test_siblings_at_the_next_position_lists_the_branch_waiting_there(acme: httpx.Client) -> None:
    branch = acme.post(f"{TRIP}/regenerate", json={"position": 5}).json()["conversation_id"]

    shown = acme.get(f"/v1/conversations/{branch}/siblings", params={"position": 5})

    assert [s["conversation_id"] for s in shown.json()["siblings"]] == ["trip", branch]


def test_unknown_conversations_are_404_to_every_branch_route(acme: httpx.Client) -> None:
    for response in (
        acme.post("/v1/conversations/nowhere/fork", json={"at": 0}),
        acme.post("/v1/conversations/nowhere/regenerate", json={"position": 1}),
        acme.get("/v1/conversations/nowhere/branches"),
        acme.get("/v1/conversations/nowhere/siblings?position=1"),
    ):
        assert_problem(response, 404)


def test_another_tenant_can_neither_fork_nor_edit_nor_list_nor_see_a_branch(
    served: Running, acme: httpx.Client
) -> None:
    branch = acme.post(f"{TRIP}/fork", json={"at": 2}).json()["conversation_id"]
    message = {"role": "user", "content": "mine now"}
    with served.client("globex") as globex:
        for guessed in ("trip", branch):
            path = f"/v1/conversations/{guessed}"
            for attempt in (
                globex.post(f"{path}/fork", json={"at": 1}),
                globex.post(f"{path}/edit", json={"position": 2, "message": message}),
                globex.post(f"{path}/regenerate", json={"position": 2}),
                globex.get(f"{path}/branches"),
                globex.get(f"{path}/siblings", params={"position": 2}),
                globex.get(f"{path}/history"),
            ):
                assert_problem(attempt, 404)
        assert globex.get("/v1/conversations").json()["conversations"] == []
    assert tree(served) == ["acme:trip", f"acme:{branch}"]


def test_a_fork_names_no_other_tenant_s_conversation(served: Running, acme: httpx.Client) -> None:
    with served.client("globex") as globex:
        globex.post("/v1/conversations/mine/messages", json={"role": "user", "content": "hi"})

    forked = acme.post(f"{TRIP}/fork", json={"at": 1, "new_id": "mine"})

    assert forked.status_code == 201, forked.text
    assert served.ledger.version("acme:mine") == 1
    assert served.ledger.version("globex:mine") == 1
    assert [b.conversation_id for b in served.ledger.branches("globex:mine")] == ["globex:mine"]


def test_an_erased_conversation_answers_410_to_a_fork(served: Running, acme: httpx.Client) -> None:
    served.ledger.erase("acme:trip", reason="asked")

    assert_problem(acme.post(f"{TRIP}/fork", json={"at": 2}), 410)
    assert tree(served) == ["acme:trip"]


def test_erasing_the_parent_of_a_held_branch_is_409(served: Running, acme: httpx.Client) -> None:
    branch = acme.post(f"{TRIP}/fork", json={"at": 2}).json()["conversation_id"]
    served.ledger.set_legal_hold(f"acme:{branch}", "case 17")

    refused = acme.post(f"{TRIP}/erase", json={"reason": "asked"})

    assert_problem(refused, 409)
    assert texts(acme, "trip")[0] == "You plan trips."


def test_a_branch_is_one_of_the_tenant_s_conversations(acme: httpx.Client) -> None:
    branch = acme.post(f"{TRIP}/fork", json={"at": 2}).json()["conversation_id"]

    listed = acme.get("/v1/conversations").json()["conversations"]

    assert sorted(c["id"] for c in listed) == sorted(["trip", branch])


# Page sessions


PageSession = tuple[Running, httpx.Client, str, dict[str, str]]


@pytest.fixture
def page_session(tmp_path: Path) -> Iterator[PageSession]:
    """A server taking anonymous writes, and a browser session that started a conversation
    holding the turn: the server, the browser, the conversation and its writes' headers."""
    with (
        running(f"sqlite:///{tmp_path / 'ledger.db'}", page_tenant="web") as server,
        httpx.Client(base_url=server.url, timeout=30) as browser,
    ):
        started = browser.post("/v1/session/conversations").json()
        headers = {"Origin": server.url, "X-CSRF-Token": started["csrf_token"]}
        conversation = started["conversation"]
        path = f"/v1/conversations/{conversation}/messages"
        recorded = browser.post(path, json=TURN, headers=headers)
        assert recorded.status_code == 201, recorded.text
        yield server, browser, conversation, headers


EDIT = {"position": 4, "message": {"role": "user", "content": "Seville?"}}


def test_a_branch_a_page_session_makes_is_one_it_reaches(page_session: PageSession) -> None:
    _, browser, conversation, headers = page_session

    edited = browser.post(f"/v1/conversations/{conversation}/edit", json=EDIT, headers=headers)
    branch = edited.json()["conversation_id"]
    show = {"conversation": branch}
    shown = browser.put("/v1/session/conversation", json=show, headers=headers)
    history = browser.get(f"/v1/conversations/{branch}/history")
    listed = browser.get("/v1/conversations").json()["conversations"]

    assert edited.status_code == 201, edited.text
    assert shown.json()["conversation"] == branch
    assert history.json()["entries"][-1]["message"]["content"] == "Seville?"
    assert branch in [c["id"] for c in listed]


def test_a_page_session_sees_no_branch_it_cannot_reach(page_session: PageSession) -> None:
    server, browser, conversation, headers = page_session
    theirs = server.ledger.fork(f"web:{conversation}", at=3).partition(":")[2]  # not the session's

    mine = browser.post(f"/v1/conversations/{conversation}/edit", json=EDIT, headers=headers)
    siblings = browser.get(f"/v1/conversations/{conversation}/siblings?position=4").json()
    branches = browser.get(f"/v1/conversations/{conversation}/branches").json()
    opened = browser.get(f"/v1/conversations/{theirs}/history")
    show = {"conversation": theirs}
    shown = browser.put("/v1/session/conversation", json=show, headers=headers)

    ids = [conversation, mine.json()["conversation_id"]]
    assert [s["conversation_id"] for s in siblings["siblings"]] == ids
    assert [s["number"] for s in siblings["siblings"]] == [1, 2]
    assert [b["conversation_id"] for b in branches["branches"]] == ids
    assert_problem(opened, 404)
    assert_problem(shown, 404)


def test_a_page_session_that_did_not_sign_in_cannot_name_a_branch(
    page_session: PageSession,
) -> None:
    server, browser, conversation, headers = page_session
    body = {"at": 2, "new_id": "guess"}

    refused = browser.post(f"/v1/conversations/{conversation}/fork", json=body, headers=headers)

    assert_problem(refused, 422, "new_id")
    assert server.ledger.version("web:guess") == 0
    assert len(server.ledger.branches(f"web:{conversation}")) == 1


def test_a_cookie_fork_without_the_csrf_token_is_403(page_session: PageSession) -> None:
    server, browser, conversation, headers = page_session
    origin = {"Origin": headers["Origin"]}

    refused = browser.post(f"/v1/conversations/{conversation}/fork", json={"at": 2}, headers=origin)

    assert refused.status_code == 403, refused.text
    assert len(server.ledger.branches(f"web:{conversation}")) == 1


def test_an_edit_over_the_limits_is_422_and_forks_nothing(
    acme: httpx.Client, served: Running
) -> None:
    big = {"role": "user", "content": "?", "metadata": {"note": "x" * 20_000}}

    refused = acme.post(f"{TRIP}/edit", json={"position": 4, "message": big})

    assert_problem(refused, 422, "message.metadata")
    assert tree(served) == ["acme:trip"]


def test_an_edit_reusing_a_shared_message_s_id_for_other_text_is_409_and_forks_nothing(
    acme: httpx.Client, served: Running
) -> None:
    acme.post(f"{TRIP}/messages", json={"id": "q-1", "role": "user", "content": "Faro?"})
    acme.post(f"{TRIP}/messages", json={"role": "assistant", "content": "Sunny."})
    reused = {"id": "q-1", "role": "user", "content": "Seville?"}  # q-1 is shared, at 6

    refused = acme.post(f"{TRIP}/edit", json={"position": 7, "message": reused})

    assert_problem(refused, 409, "id")
    assert tree(served) == ["acme:trip"]


def test_the_openapi_schema_lists_the_branch_routes_and_their_answers(
    acme: httpx.Client,
) -> None:
    paths = acme.get("/openapi.json").json()["paths"]

    for route in ("fork", "edit", "regenerate"):
        answers = paths[f"/v1/conversations/{{conversation_id}}/{route}"]["post"]["responses"]
        assert {"201", "404", "410", "422"} <= set(answers), route
    for route in ("branches", "siblings"):
        assert "get" in paths[f"/v1/conversations/{{conversation_id}}/{route}"]
