"""The benchmark's baseline: a bare Faust agent that decodes each event and counts, nothing more.

It reads both event topics like the riskloop worker does (raw bytes, its own app id and
consumer group, from the earliest offset) and serves ``/count/`` on its web port:
``{"events": valid, "invalid": rejected}``. ``riskloop bench`` runs it as its own process::

    python -m riskloop.bench_agent --broker kafka://127.0.0.1:9092 --app-id bench \\
        --web-port 6067 --datadir bench-agent-data --partitions 4
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

import faust
import faust.web

from envelope.events import Event, InvalidEvent
from envelope.topics import TOPIC_REGULATORY, TOPIC_SERVICE


def create_app(broker: str, app_id: str, web_port: int, datadir: str, partitions: int) -> faust.App:
    """A Faust app with one agent (decode with ``Event.from_json``, count) and a count page."""
    app = faust.App(
        app_id,
        broker=broker,
        store="memory://",
        datadir=datadir,
        topic_partitions=partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        web_port=web_port,
        web_tables_enabled=False,
        web_router_enabled=False,
    )
    events = app.topic(
        TOPIC_SERVICE,
        TOPIC_REGULATORY,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    counts = {"events": 0, "invalid": 0}

    @app.agent(events, name="decode-and-count")
    async def decode_and_count(stream: faust.StreamT) -> None:
        async for value in stream:
            try:
                Event.from_json(value)
            except InvalidEvent:
                counts["invalid"] += 1
            else:
                counts["events"] += 1

    @app.page("/count/")
    async def count_page(view: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return view.json(counts)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the baseline agent as a Faust worker until it is stopped (SIGTERM / Ctrl-C)."""
    from faust.worker import Worker

    p = argparse.ArgumentParser(prog="python -m riskloop.bench_agent", description=__doc__)
    p.add_argument("--broker", required=True, help="kafka://host:port")
    p.add_argument("--app-id", required=True)
    p.add_argument("--web-port", type=int, required=True)
    p.add_argument("--datadir", required=True)
    p.add_argument("--partitions", type=int, default=4)
    args = p.parse_args(argv)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(args.broker, args.app_id, args.web_port, args.datadir, args.partitions)
    Worker(app, loglevel="warning", loop=loop).execute_from_commandline()


if __name__ == "__main__":
    main()
