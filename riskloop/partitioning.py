"""Kafka's default partitioner (murmur2 of the key bytes), so a backtest can shard events
exactly as the broker does and run one engine per partition, like the live worker.

>>> partition_for(b"330106", 4) == partition_for(b"330106", 4)
True
>>> murmur2(b"21")
-973932308
"""

from __future__ import annotations


def murmur2(data: bytes) -> int:
    """The 32-bit murmur2 hash Kafka's Java client uses, as a signed int."""
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    nblocks = length // 4
    for i in range(nblocks):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & 3
    off = nblocks * 4
    if tail == 3:
        h ^= data[off + 2] << 16
    if tail >= 2:
        h ^= data[off + 1] << 8
    if tail >= 1:
        h ^= data[off]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int) -> int:
    """Partition of a keyed record, as Kafka's default partitioner picks it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
