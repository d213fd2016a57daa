"""The worker's Kafka consumer: Faust's, with the fetch wait the worker is configured for.

A fetch asks the broker for new records and may wait at the broker up to ``fetch_max_wait_ms``
for some to arrive. Apache Kafka answers as soon as one does, so the wait only sets how often
an idle consumer asks again; a broker that answers only when the wait is over (Tansu does)
delays every hop of the job by up to that much: the event topics to ingest, the repartition
topic to evaluate, the warnings to the clue sink. Faust's aiokafka driver fixes the wait at
1,500 ms with no setting, so the worker's consumer thread sets it on the aiokafka consumer
before that starts (``RISKLOOP_FETCH_MAX_WAIT_MS``).

The consumer also says when it has handed over everything it fetched: ``delivering`` is
true from a fetch's records coming in until the last of them is in the agents' buffers, and
``after_batch`` callbacks run then, so an agent batching what it reads knows its input is
drained (:mod:`streams.linger`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver


class ConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's consumer thread; its aiokafka consumer fetches with the app's wait."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start(), which builds the fetcher with it
        consumer._fetch_max_wait_ms = int(getattr(self.app, "fetch_max_wait_ms", 1500))
        return consumer


class Consumer(driver.Consumer):
    delivering = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.after_batch: list[Callable[[], None]] = []

    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def getmany(self, timeout: float) -> AsyncIterator[Any]:
        """Faust's records of one fetch, one at a time; ``after_batch`` once all are out."""
        handed = False
        try:
            async for item in super().getmany(timeout):
                self.delivering = handed = True
                yield item
        finally:
            self.delivering = False
        if handed:
            for callback in self.after_batch:
                callback()


class Transport(driver.Transport):
    """The ``kafka://`` transport with :class:`Consumer`."""

    Consumer = Consumer
