"""Kafka's default partitioner, so a backtest can shard events exactly as the broker does and
run one engine per partition, like the live worker.

The hash is aiokafka's ``murmur2`` (the 32-bit murmur2 of Kafka's Java client, signed), the
library the worker already produces with; only the "positive modulo" step is here. aiokafka
returns the hash unsigned (the Java client's -973932308 for ``b"21"`` is 3321034988 here); the
low 31 bits that pick the partition are the same.

>>> partition_for(b"330106", 4) == partition_for(b"330106", 4)
True
>>> murmur2(b"21"), partition_for(b"21", 12)
(3321034988, 0)
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

__all__ = ["murmur2", "partition_for"]


def partition_for(key: bytes, partitions: int) -> int:
    """Partition of a keyed record, as Kafka's default partitioner picks it."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions
