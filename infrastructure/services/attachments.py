"""Attachments: large binary parts sealed and stored apart on the way in, put back when asked."""

from __future__ import annotations

from collections.abc import Sequence

from chatledger.domain import (
    Attachment,
    AttachmentResolver,
    InvalidMessage,
    Limits,
    Message,
    UnknownAttachment,
    UnknownConversation,
    check_conversation_id,
)
from chatledger.domain.attachments import (
    attachments_of,
    base64_text,
    check_digest,
    detach,
    inline,
)
from chatledger.infrastructure.storage.application import LedgerApplication
from chatledger.infrastructure.storage.attachments import SealedAttachment
from chatledger.projections import HistoryEntry


class Attachments:
    """The attachments of one store's conversations: detached, sealed, read back, purged."""

    def __init__(self, app: LedgerApplication, limits: Limits) -> None:
        self._app = app
        self._store = app.attachments
        self._sealer = app.sealer
        self._threshold = limits.attachment_threshold_bytes

    @property
    def threshold(self) -> int:
        """Binary data over this many bytes (decoded) is stored as an attachment."""
        return self._threshold

    def detach(
        self, conversation_id: str, batch: Sequence[Message]
    ) -> tuple[list[Message], list[SealedAttachment]]:
        """The batch as it is stored, and the sealed rows of the attachments it adds.

        Each part whose data is over the threshold holds an attachment instead; bytes the
        conversation holds already (sent before, or twice in the batch) are stored once. A
        part that refers to an attachment itself must name one the conversation holds, with
        its size: InvalidMessage otherwise, and nothing is written.
        """
        stored: list[Message] = []
        new: dict[str, tuple[Attachment, bytes]] = {}
        given = [(index, ref) for message in batch for index, ref in attachments_of(message)]
        if given and self._app.keys.key(conversation_id) is None:
            # A conversation with no key has no attachments: refuse before a key is made.
            index, ref = given[0]
            raise _not_held(index, ref)
        for message in batch:
            detached_message, detached = detach(message, self._threshold)
            stored.append(detached_message)
            for part in detached:
                attachment_id = self._sealer.attachment_id(conversation_id, part.attachment.digest)
                new.setdefault(attachment_id, (part.attachment, part.data))
        if not new and not given:
            return stored, []
        given_ids = [
            (index, ref, self._sealer.attachment_id(conversation_id, ref.digest))
            for index, ref in given
        ]
        held = self._store.present(conversation_id, {*new, *(i for _, _, i in given_ids)})
        for index, ref, attachment_id in given_ids:
            if attachment_id in new:
                continue
            if held.get(attachment_id) != ref.size:
                raise _not_held(index, ref)
        rows = [
            SealedAttachment(
                conversation_id,
                attachment_id,
                attachment.media_type,
                attachment.size,
                self._sealer.seal_attachment(conversation_id, attachment_id, data),
            )
            for attachment_id, (attachment, data) in new.items()
            if attachment_id not in held
        ]
        return stored, rows

    def read(self, conversation_id: str, digest: str) -> bytes:
        """The bytes of the conversation's attachment with ``digest`` (its sha256, hex).

        Raises UnknownConversation, UnknownAttachment, or ConversationErased once erased.
        """
        check_conversation_id(conversation_id)
        check_digest("digest", digest)
        self._app.tail(conversation_id)  # an erased stream's key is forgotten here at once
        if self._app.keys.key(conversation_id) is None:
            raise UnknownConversation(conversation_id)
        attachment_id = self._sealer.attachment_id(conversation_id, digest, create=False)
        row = self._store.read(conversation_id, attachment_id)
        if row is None:
            raise UnknownAttachment(conversation_id, digest)
        return self._sealer.open_attachment(conversation_id, attachment_id, row.sealed)

    def resolver(self, conversation_id: str) -> AttachmentResolver:
        """``digest -> base64 text`` for the conversation's attachments, each read once."""
        check_conversation_id(conversation_id)
        read: dict[str, str] = {}

        def resolve(digest: str) -> str:
            if digest not in read:
                read[digest] = base64_text(self.read(conversation_id, digest))
            return read[digest]

        return resolve

    def inlined(
        self, conversation_id: str, entries: Sequence[HistoryEntry]
    ) -> tuple[HistoryEntry, ...]:
        """The entries with their attachments' bytes back in their parts."""
        resolve: AttachmentResolver | None = None
        out: list[HistoryEntry] = []
        for entry in entries:
            if entry.erased or not attachments_of(entry.message):
                out.append(entry)
                continue
            resolve = resolve or self.resolver(conversation_id)
            out.append(entry.model_copy(update={"message": inline(entry.message, resolve)}))
        return tuple(out)

    def purge(self, conversation_id: str) -> int:
        """Delete the conversation's attachments from the store; return how many there were."""
        return self._store.purge(conversation_id)

    def stored_sizes(self, conversation_id: str) -> list[int]:
        """The stored (sealed) length of each of the conversation's attachments."""
        return self._store.sizes(conversation_id)


def _not_held(index: int, ref: Attachment) -> InvalidMessage:
    return InvalidMessage(
        f"content.{index}.attachment",
        f"refers to attachment {ref.digest} of {ref.size} bytes, which this conversation "
        "does not hold: send the part's data inline instead",
    )
