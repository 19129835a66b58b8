"""Conversations as trees: a branch is its parent's prefix, shared by reference, then its own.

``fork(conversation, at)`` begins a conversation whose first event, ``Conversation.Forked``,
names its parent and the fork point: its positions 1..at are the parent's (read from the
parent's stream, never copied), and its own messages follow at ``at + 1``, in its own stream,
under its own key. A fork of a fork shares its parent's prefix the same way, so a branch's
history is a chain of segments back to the root, and a read takes from each segment only what
it needs. Each tree keeps a stream of its own (``tree/<root>``) listing its branches in
creation order, which ``branches`` and ``siblings`` read.

What erasure means on a tree: erasing a conversation destroys the key of what it owns, its own
messages. A branch's prefix shows its parent's messages erased once the parent is (at once in
the process that erased it; in another, once its cached key expires, within
``KEY_CACHE_SECONDS``), and its memory then holds only what follows the prefix: no summary
the branch recorded over the prefix is shown or listed with its text either. A legal hold on
any branch blocks erasing the conversations whose messages it shares, its ancestors, by hand
or by retention (a hold on a conversation itself stops retention only, as before branches: its
owner may still erase it).

What a branch inherits: the memory changes its parent had made when it was forked, applied to
the prefix (what was retracted or cleared there stays so), never those made later. Summaries
stay with the conversation that recorded them: a branch's summary window starts with none.

The chain: ``Forked`` carries the parent's chain head at the fork point and a link of its own
over the parent's id, the fork point and that head; the branch's messages chain on from it.
``verify`` of a branch checks its own rows, its fork link, and the prefix it shares, in its
ancestors' rows, to the head it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Branch(BaseModel):
    """One conversation of a tree: where it forked from, and how long it is now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conversation_id: str
    parent: str | None = None
    """The conversation it was forked from; None for the tree's root."""
    fork_point: int = Field(default=0, ge=0)
    """Its last position shared with the parent (0 for the root)."""
    length: int = Field(ge=0)
    """Its head position: the number of messages its history holds, the prefix included."""
    created_at: datetime


class Sibling(BaseModel):
    """One alternative at a position: the branch whose own message is there, for a switcher."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=1)
    """Its place among the alternatives, in creation order: the "2" of "2/3"."""
    conversation_id: str
    """The branch that holds this alternative as its own message (or will, once recorded)."""
    created_at: datetime
    current: bool
    """Whether it is the alternative the asked-about conversation shows at that position."""


def owner(branch: str, position: int, tree: dict[str, Branch]) -> str:
    """The conversation of ``tree`` whose own stream holds ``branch``'s message at ``position``."""
    current = tree[branch]
    while current.parent is not None and position <= current.fork_point:
        current = tree[current.parent]
    return current.conversation_id


def siblings(branch: str, position: int, tree: dict[str, Branch]) -> list[Sibling]:
    """The alternatives at ``position`` for ``branch``: each conversation of the tree that shares
    ``branch``'s messages 1..position-1 and owns its own message at ``position`` (or begins
    there, waiting for one), oldest first."""
    before = owner(branch, position - 1, tree) if position > 1 else None
    shown = owner(branch, position, tree)
    alternatives: dict[str, Branch] = {}
    for candidate in sorted(tree.values(), key=lambda b: b.created_at):
        if candidate.length < position and candidate.fork_point != position - 1:
            continue
        if before is not None and owner(candidate.conversation_id, position - 1, tree) != before:
            continue
        holder = owner(candidate.conversation_id, position, tree)
        alternatives.setdefault(holder, tree[holder])
    ordered = sorted(alternatives.values(), key=lambda b: b.created_at)
    return [
        Sibling(
            number=number,
            conversation_id=b.conversation_id,
            created_at=b.created_at,
            current=b.conversation_id == shown,
        )
        for number, b in enumerate(ordered, start=1)
    ]


def descendants(conversation: str, tree: Iterable[Branch]) -> list[str]:
    """Every conversation of ``tree`` whose prefix reaches into ``conversation``'s own messages:
    its forks, their forks, and so on."""
    children: dict[str, list[str]] = {}
    for branch in tree:
        if branch.parent is not None:
            children.setdefault(branch.parent, []).append(branch.conversation_id)
    found: list[str] = []
    waiting: Sequence[str] = children.get(conversation, [])
    while waiting:
        found += waiting
        waiting = [child for name in waiting for child in children.get(name, [])]
    return found
