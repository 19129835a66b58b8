"""Branches: fork a conversation at any position, edit a message, regenerate a reply.

A fork copies nothing: it is one ``Conversation.Forked`` event, saved atomically with the
``Conversation.Branched`` event that lists it in its tree's stream, and everything else reads
the parent's prefix by reference (``chatledger.domain.branches`` says how, and what erasure and
legal holds mean on a tree).
"""

from __future__ import annotations

import uuid
from typing import cast

from eventsourcing.persistence import IntegrityError

from chatledger.domain import (
    Conversation,
    ConversationErased,
    InvalidInput,
    InvalidMessage,
    Message,
    UnknownConversation,
    UnreadableEvent,
    WriteContention,
    check_conversation_id,
    check_count,
    utc_now,
)
from chatledger.domain.branches import Branch, Sibling, descendants, siblings
from chatledger.domain.conversation import tree_stream_id
from chatledger.infrastructure.services.memory_change_reads import change_events_newest_first
from chatledger.infrastructure.services.reading import Reading
from chatledger.infrastructure.services.recording import Recording
from chatledger.infrastructure.services.verification import link_at
from chatledger.infrastructure.storage.application import LedgerApplication

MAX_APPEND_ATTEMPTS = 100


class Branches:
    """Forks, edits and regenerations in one store, and the trees they make."""

    def __init__(self, app: LedgerApplication, reading: Reading, recording: Recording) -> None:
        self._app = app
        self._reading = reading
        self._recording = recording

    def fork(self, conversation_id: str, *, at: int, new_id: str | None = None) -> str:
        """Begin a branch sharing messages 1..``at`` of the conversation; return its id.

        ``new_id`` names it (by default, a new id in the conversation's tenant). Raises
        UnknownConversation if the conversation holds nothing, ConversationErased once it was
        erased, InvalidInput naming ``at`` past its history or ``new_id`` already in use.
        """
        check_conversation_id(conversation_id)
        check_count("at", at)
        if new_id is not None:
            check_conversation_id(new_id)
        head = self._head(conversation_id)
        if at > head:
            raise InvalidInput(
                "at", f"position {at} is past the end of the history ({head} messages)"
            )
        branch = new_id or _new_id(conversation_id)
        if self._app.recorder.select_events(branch, limit=1):
            raise InvalidInput("new_id", f"{branch!r} already names a conversation")
        lineage = self._reading.lineage
        root = lineage.root(conversation_id)
        event = Conversation.fork(
            branch,
            parent=conversation_id,
            fork_point=at,
            parent_link=self._link_at(conversation_id, at),
            system_position=self._system_position(conversation_id, at),
            changes=self._changes_by(conversation_id),
        )
        self._app.keys.key(branch, create=True)  # listed, and keyed, from its first event
        try:
            save_branch(self._app, root, event)
        except IntegrityError:
            raise InvalidInput("new_id", f"{branch!r} already names a conversation") from None
        lineage.learn(branch, event)
        return branch

    def edit(
        self, conversation_id: str, position: int, message: Message, *, new_id: str | None = None
    ) -> str:
        """Fork before ``position`` and record ``message`` there instead; return the branch."""
        check_count("position", position, minimum=1)
        self._check_within(conversation_id, position)
        if not isinstance(message, Message):
            raise InvalidInput("message", f"is a {type(message).__name__}, not a Message")
        # Checked before the fork: a message the branch would refuse leaves no branch behind.
        try:
            self._recording.check_branch(conversation_id, position - 1, message)
        except InvalidMessage as exc:
            field = "message" if exc.field == "messages" else f"message.{exc.field}"
            raise InvalidMessage(field, exc.problem) from None
        branch = self.fork(conversation_id, at=position - 1, new_id=new_id)
        self._recording.record(branch, message)
        return branch

    def regenerate(self, conversation_id: str, position: int, *, new_id: str | None = None) -> str:
        """Fork before ``position``, for another reply to be recorded there; return the branch.

        ``position`` may be one past the end: a branch still waiting for its reply there gets
        another alternative beside it."""
        check_count("position", position, minimum=1)
        self._check_within(conversation_id, position, waiting=True)
        return self.fork(conversation_id, at=position - 1, new_id=new_id)

    def branches(self, conversation_id: str) -> list[Branch]:
        """Every conversation of the conversation's tree, the root first, in creation order."""
        return list(self._tree(conversation_id).values())

    def siblings(self, conversation_id: str, position: int) -> list[Sibling]:
        """The alternatives at ``position`` for this conversation, in creation order."""
        check_count("position", position, minimum=1)
        self._check_within(conversation_id, position, waiting=True)
        return siblings(conversation_id, position, self._tree(conversation_id))

    def descendants(self, conversation_id: str) -> list[str]:
        """The branches whose shared prefix reaches into the conversation's own messages."""
        if not self._exists(conversation_id):
            return []
        return descendants(conversation_id, self._tree(conversation_id).values())

    # Steps

    def _tree(self, conversation_id: str) -> dict[str, Branch]:
        check_conversation_id(conversation_id)
        if not self._reading.head(conversation_id) and not self._exists(conversation_id):
            raise UnknownConversation(conversation_id)
        root = self._reading.lineage.root(conversation_id)
        started = cast(list[Conversation.Started], list(self._app.events.get(root, lte=1)))
        tree = {
            root: Branch(
                conversation_id=root,
                length=self._reading.head(root),
                created_at=started[0].timestamp if started else utc_now(),
            )
        }
        for event in self._app.events.get(tree_stream_id(root)):
            listed = cast(Conversation.Branched, event)
            tree[listed.branch] = Branch(
                conversation_id=listed.branch,
                parent=listed.parent,
                fork_point=listed.fork_point,
                length=self._reading.head(listed.branch),
                created_at=listed.timestamp,
            )
        return tree

    def _exists(self, conversation_id: str) -> bool:
        return bool(self._app.recorder.select_events(conversation_id, limit=1))

    def _head(self, conversation_id: str) -> int:
        """The conversation's length; UnknownConversation or ConversationErased if it has none."""
        row = self._app.tail(conversation_id)
        if row is None:
            raise UnknownConversation(conversation_id)
        if self._app.ended(row):
            raise ConversationErased(conversation_id)
        head = self._reading.head(conversation_id)
        if head == 0 and self._reading.lineage.fork_of(conversation_id) is None:
            raise UnknownConversation(conversation_id)
        return head

    def _check_within(self, conversation_id: str, position: int, *, waiting: bool = False) -> None:
        head = self._head(conversation_id)
        if position > head + (1 if waiting else 0):
            raise InvalidInput(
                "position", f"position {position} is past the end of the history ({head} messages)"
            )

    def _link_at(self, conversation_id: str, position: int) -> str:
        """The conversation's chain head at ``position``: its genesis at 0, a branch's fork
        link at its fork point, its parent's head before it."""
        link = link_at(self._app, conversation_id, position)
        if link is None:
            raise UnreadableEvent(
                f"conversation {conversation_id!r} has no link at position {position}, "
                "though its length says it does"
            )
        return link

    def _system_position(self, conversation_id: str, position: int) -> int | None:
        """The position of the system prompt in force at ``position``."""
        if position == 0:
            return None
        return self._reading.message_event(conversation_id, position).system_position

    def _changes_by(self, conversation_id: str) -> int:
        """The number of the parent's newest memory change: the branch inherits them all."""
        newest = next(change_events_newest_first(self._app, conversation_id), None)
        return newest.number if newest is not None else 0


def save_branch(app: LedgerApplication, root: str, fork: Conversation.Forked) -> None:
    """Save ``fork`` with the event listing it in its tree's stream, atomically.

    Raises IntegrityError if the branch's stream exists already; a clash on the tree's stream
    (another branch listed first) is retried, listing this one after it.
    """
    tree = tree_stream_id(root)
    for _ in range(MAX_APPEND_ATTEMPTS):
        last = list(app.events.get(tree, desc=True, limit=1))
        listed = Conversation.Branched(
            originator_id=tree,
            originator_version=last[0].originator_version + 1 if last else 1,
            timestamp=fork.timestamp,
            root=root,
            branch=fork.originator_id,
            parent=fork.parent,
            fork_point=fork.fork_point,
        )
        try:
            app.save(fork, listed)
        except IntegrityError:
            if app.recorder.select_events(fork.originator_id, limit=1):
                raise
            continue  # another branch of the tree was listed first: list this one after it
        return
    raise WriteContention(f"stream {tree!r}")


def _new_id(conversation_id: str) -> str:
    """A new conversation id in the same tenant: what comes before the last ':' is kept."""
    tenant, colon, _ = conversation_id.rpartition(":")
    return f"{tenant}{colon}{uuid.uuid4().hex}"
