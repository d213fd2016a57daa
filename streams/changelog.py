"""Writing a checkpoint to the state changelog, and knowing that it was written.

A checkpoint (:mod:`streams.state`) is the changed buckets of a partition, then one commit
record naming them with the offsets they cover. Its records are acknowledged only once the
broker has confirmed every write: a write the broker refuses (a record over the topic's
``max.message.bytes``), or does not confirm within ``timeout_s``, raises
:class:`ChangelogWriteFailed`, the records stay unacknowledged, and Kafka never commits past
state that is not in the changelog; a restart applies them again from the last good
checkpoint (warning ids are deterministic, so a re-sent warning changes nothing).

The buckets are written and confirmed before the commit record is sent: a commit record
that landed while one of its buckets did not would name state that is not there.

:class:`MappingChangelog` writes into a plain mapping (tests, a single process);
:class:`TableChangelog` sends each record to the changelog topic of the worker's Faust table
and waits for the broker, then keeps it in the table's local store, which a restore reads.
"""

from __future__ import annotations

import asyncio
import base64
import pickle
import zlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

# (partition, key, value) -> the broker's confirmation; raises when it refused the record
Send = Callable[[int, str, str], Awaitable[Any]]


class ChangelogWriteFailed(Exception):
    """A changelog record was refused, or not confirmed in time."""


class Changelog(Protocol):
    def items(self) -> Iterable[tuple[str, str]]: ...

    async def write(self, partition: int, records: dict[str, str]) -> None: ...


class MappingChangelog:
    """A changelog that is a mapping: every write succeeds at once.

    >>> table: dict = {}
    >>> asyncio.run(MappingChangelog(table).write(0, {"0|commit": "{}"}))
    >>> table
    {'0|commit': '{}'}
    """

    def __init__(self, table: MutableMapping[str, str]) -> None:
        self.table = table

    def items(self) -> Iterable[tuple[str, str]]:
        return list(self.table.items())

    async def write(self, partition: int, records: dict[str, str]) -> None:
        for key, value in records.items():  # one at a time, in order, as a changelog keeps them
            self.table[key] = value


class TableChangelog:
    """Records sent with ``send`` and confirmed by the broker, then kept in ``local`` (the
    table's store, read when a partition is restored). All records of one write are sent
    before any is awaited, so they travel in one batch."""

    def __init__(self, send: Send, local: MutableMapping[str, str], timeout_s: float) -> None:
        self.send = send
        self.local = local
        self.timeout_s = timeout_s

    def items(self) -> Iterable[tuple[str, str]]:
        return list(self.local.items())

    async def write(self, partition: int, records: dict[str, str]) -> None:
        try:
            sent = [
                asyncio.ensure_future(await self.send(partition, k, v)) for k, v in records.items()
            ]
        except Exception as exc:  # the producer refused a record before sending it
            raise _refused(partition, exc) from exc
        if not sent:
            return
        # waited for, never cancelled: the producer still owns the futures after a timeout
        done, late = await asyncio.wait(sent, timeout=self.timeout_s)
        for fut in done:
            error = fut.exception()
            if error is not None:
                raise _refused(partition, error) from error
        if late:
            raise ChangelogWriteFailed(
                f"the broker did not confirm {len(late)} of {len(sent)} state records of "
                f"partition {partition} within {self.timeout_s:g} s"
            )
        self.local.update(records)


def _refused(partition: int, exc: BaseException) -> ChangelogWriteFailed:
    return ChangelogWriteFailed(
        f"a state record of partition {partition} was refused: {type(exc).__name__}: {exc}"
    )


def faust_table_send(table: Any) -> Send:
    """``send`` for :class:`TableChangelog`: a record to the changelog partition ``partition``
    of the Faust ``table``, sent now (not held until the current event is committed), with
    the table's serializers; the returned future raises when the broker refuses it."""

    async def send(partition: int, key: str, value: str) -> Awaitable[Any]:
        return await table.changelog_topic.send(
            key=key,
            value=value,
            partition=partition,
            key_serializer=table.key_serializer,
            value_serializer=table.value_serializer,
            force=True,
        )

    return send


def encode_bucket(bucket: dict[Any, Any]) -> str:
    """A bucket as a changelog value: ``z:`` and the base64 of its pickle, zlib-compressed
    (state of many keys is repetitive; a smaller record stays under the broker's limit).

    >>> decode_bucket(encode_bucket({("r@1", "k"): b"x" * 1000})) == {("r@1", "k"): b"x" * 1000}
    True
    >>> len(encode_bucket({("r@1", "k"): b"x" * 1000})) < 100
    True
    """
    blob = zlib.compress(pickle.dumps(bucket, protocol=5), 1)
    return "z:" + base64.b64encode(blob).decode("ascii")


def decode_bucket(value: str) -> dict[Any, Any]:
    """:func:`encode_bucket`'s inverse; also reads the uncompressed values of older releases
    (base64 of a pickle, which never starts with ``z:``)."""
    if value.startswith("z:"):
        return pickle.loads(zlib.decompress(base64.b64decode(value[2:])))
    return pickle.loads(base64.b64decode(value))
