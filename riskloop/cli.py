"""``riskloop`` — one console entry point, one subcommand per job.

Each subcommand imports what it needs when it runs, so ``riskloop --help`` is instant and
a rule author's ``riskloop backtest`` never loads Faust.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from envelope.calendar_file import CalendarFileError
from envelope.errors import UserError
from envelope.settings import Settings, SettingsError

Handler = Callable[[argparse.Namespace], int]


def cmd_simulate(args: argparse.Namespace) -> int:
    from replay.simulator import labels_path, simulate_to_file

    out = Path(args.out)
    n_events, n_labels = simulate_to_file(
        out,
        args.seed,
        days=args.days,
        start=args.start,
        scale=args.scale,
        variants=tuple(v.strip() for v in args.variants.split(",") if v.strip()),
    )
    print(f"wrote {n_events} events to {out} and {n_labels} labels to {labels_path(out)}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from replay.publish import publish
    from replay.sources import RowFilter

    settings = Settings.from_env()
    types = tuple(t.strip() for t in args.types.split(",") if t.strip()) if args.types else None
    report = asyncio.run(
        publish(
            args.files,
            args.bootstrap or settings.bootstrap,
            speed=args.speed,
            max_speed=args.max,
            rejects_path=args.rejects,
            progress=not args.quiet and (args.progress or sys.stderr.isatty()),
            partition_field=settings.partition_field,
            encoding=args.encoding,
            mapping=args.mapping,
            row_filter=RowFilter(since_ms=args.since, until_ms=args.until, types=types),
            rate=args.rate,
            batch=args.batch,
            checkpoint=args.checkpoint,
        )
    )
    print(report)
    return 1 if report.failed else 0


def _day_or_instant(end: bool) -> Callable[[str], int]:
    """``--from``/``--to``: a date (a whole day at UTC+08:00; ``--to`` includes it) or an
    ISO 8601 instant with its offset; epoch ms of the bound."""

    def parse(text: str) -> int:
        from datetime import date, timedelta, timezone

        try:
            day = date.fromisoformat(text)
        except ValueError:
            return _instant_ms(text)
        start = datetime(day.year, day.month, day.day, tzinfo=timezone(timedelta(hours=8)))
        return int(((start + timedelta(days=1)) if end else start).timestamp() * 1000)

    return parse


def _instant_ms(text: str) -> int:
    """``--now``: an ISO 8601 instant with its UTC offset."""
    from envelope.events import InvalidEvent, parse_ts_ms

    try:
        return parse_ts_ms(text)
    except InvalidEvent as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("bad timestamp", "bad time")) from None


def cmd_backtest(args: argparse.Namespace) -> int:
    from replay.backtest import backtest, format_report
    from replay.warnings_out import offset_tz, warnings_format, write_warnings
    from rules.engine.admission import Bounds

    if args.warnings_out is not None:
        warnings_format(args.warnings_out)  # a bad extension stops before the run
    settings = Settings.from_env()
    report = backtest(
        args.file,
        args.rules or settings.rules_dir,
        partitions=args.partitions or settings.partitions,
        partition_field=settings.partition_field,
        labels_path=args.labels,
        lateness_ms=settings.lateness_ms,
        open_end=args.open_end,
        seed_path=args.seed,
        now_ms=args.now,
        bounds=Bounds.from_settings(settings),
    )
    print(format_report(report))
    if args.warnings_out is not None:
        rows = write_warnings(report.warnings, args.warnings_out, offset_tz(report.tz))
        print(f"wrote {rows} warnings to {args.warnings_out}")
    return 0


def cmd_export_dispositions(args: argparse.Namespace) -> int:
    from replay.export import export_dispositions
    from rules.tools.backtest import Window

    settings = Settings.from_env()
    local = datetime.now().astimezone().tzinfo  # dates are days where the export runs
    try:
        since_ms, until_ms = Window(args.since, args.until).bounds_ms(local or UTC)
    except ValueError as exc:
        print(f"riskloop export-dispositions: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(
        export_dispositions(
            args.out,
            args.bootstrap or settings.bootstrap,
            since_ms=since_ms,
            until_ms=until_ms,
            progress=not args.quiet,
        )
    )
    print(report)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from faust.worker import Worker

    from riskloop.topic_admin import create_topics, riskloop_topics
    from streams.app import arm_stop_deadline, create_app

    settings = Settings.from_env()

    class BoundedWorker(Worker):
        """A stop (SIGTERM, Ctrl-C) ends the process within RISKLOOP_STOP_TIMEOUT_S from the
        signal on, whatever is still running (streams.app: what it does in that time)."""

        async def on_stop(self) -> None:
            arm_stop_deadline(settings.stop_timeout_s)
            await super().on_stop()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(
        create_topics(settings.bootstrap, riskloop_topics(settings.partitions, settings.app_id))
    )
    app = create_app(settings)
    worker = BoundedWorker(app, loglevel=args.loglevel, loop=loop)
    worker.execute_from_commandline()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    from clues.api import serve

    serve(Settings.from_env())
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from riskloop.topic_admin import create_topics, riskloop_topics

    settings = Settings.from_env()
    topics = riskloop_topics(settings.partitions, settings.app_id)
    asyncio.run(create_topics(settings.bootstrap, topics))
    for name, n in topics.items():
        print(f"{name}\t{n} partitions")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from riskloop.demo import run_demo

    return run_demo(duration_s=args.duration, days=args.days, seed=args.seed)


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "detectors":
        from detectors.bench import run

        code = run(seeds=args.seeds, length=args.length, only=args.only)
        if args.sim_seeds:
            from replay.bench_behaviour import report

            code = code or report(args.sim_seeds)
        return code
    from riskloop.bench import run_bench

    return run_bench(
        events=args.events,
        batch=args.batch,
        kafka_workers=args.kafka_workers,
        latency_s=args.latency_seconds,
    )


def build_parser() -> argparse.ArgumentParser:
    about = "riskloop: events in, risk warnings out, clues verified, dispositions fed back."
    p = argparse.ArgumentParser(prog="riskloop", description=about)
    sub = p.add_subparsers(dest="command", required=True)
    _data_parsers(sub)
    _service_parsers(sub)
    _add_optional(sub, "rules.tools.cli")  # riskloop rules check|test|explain|backtest
    _add_optional(sub, "clues.cli")  # riskloop clues …
    _add_optional(sub, "streams.ruleset_cli")  # riskloop ruleset publish|show
    s = sub.add_parser("bench", help="print throughput figures")
    s.add_argument("--events", type=int, default=20_000)
    s.add_argument(
        "--batch", type=int, default=1000, help="events a record in the batched row (0: no row)"
    )
    s.add_argument(
        "--kafka-workers",
        action="store_true",
        help="add 1, 2 and 3 workers in one group on Apache Kafka (several minutes more)",
    )
    s.add_argument(
        "--latency-seconds",
        type=float,
        default=20.0,
        help="seconds of events at half capacity in the event -> clue latency row (0: no row)",
    )
    s.set_defaults(fn=cmd_bench, what=None)
    what = s.add_subparsers(dest="what")
    d = what.add_parser("detectors", help="detector quality on a labelled corpus, per kind")
    from detectors.bench import add_arguments

    add_arguments(d)
    return p


def _data_parsers(sub: argparse._SubParsersAction) -> None:
    """The data engineer's commands: simulate, replay, backtest, export-dispositions."""

    s = sub.add_parser("simulate", help="write a labelled simulated city event stream")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--days", type=int, default=7)
    s.add_argument("--start", default="2026-03-02", help="first local date (a Monday)")
    s.add_argument("--scale", type=float, default=1.0, help="traffic multiplier")
    s.add_argument("--out", required=True, help="FILE.jsonl, FILE.csv or FILE.parquet")
    s.add_argument(
        "--variants",
        default="",
        help="variants, comma-separated: festival (a city-wide hotline rise), "
        "batch_account (a nightly batch reader), feeds (office-hours data feeds, some empty "
        "batches, two labelled outages), high_rejection (officials rejecting most "
        "decisions for three working days, labelled)",
    )
    s.set_defaults(fn=cmd_simulate)

    _replay_parser(sub)

    s = sub.add_parser("backtest", help="run an event file straight through the rule engine")
    s.add_argument("file")
    s.add_argument("--rules", help="rules folder (default: the shipped library)")
    s.add_argument("--labels", help="labels file: print recall and precision per scenario")
    s.add_argument("--partitions", type=int, help="shard like a topic with N partitions")
    s.add_argument(
        "--seed",
        metavar="FILE",
        help="past events each partition learns from first, as a seeded deployment does",
    )
    s.add_argument(
        "--open-end",
        action="store_true",
        help="the file is a stream still going on: what a live worker has raised right after "
        "replaying it (no deadline past what both topics of a partition reached)",
    )
    s.add_argument(
        "--warnings-out",
        metavar="W",
        help="write every warning, one row each, to W.jsonl, W.csv or W.parquet",
    )
    s.add_argument(
        "--now",
        type=_instant_ms,
        metavar="TIME",
        help="the wall clock events are judged against, like 2026-03-10T00:00:00+08:00 "
        "(default: now): too far ahead of it or older than the retention is refused",
    )
    s.set_defaults(fn=cmd_backtest)
    _export_parser(sub)


def _replay_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("replay", help="publish event files to the event topics")
    s.add_argument("files", nargs="+", metavar="FILE", help="event files, folders or globs")
    pace = s.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="replay X times faster than event time")
    pace.add_argument("--max", action="store_true", help="as fast as possible")
    s.add_argument("--rate", type=float, metavar="N", help="at most N events a second")
    s.add_argument("--rejects", help="where rows that are not valid events go")
    s.add_argument("--bootstrap", help="host:port of the broker (default from RISKLOOP_BROKER)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--progress", action="store_true", help="a progress bar even off a terminal")
    s.add_argument("--encoding", default="utf-8", help="of CSV and JSON lines (e.g. gb18030)")
    s.add_argument("--mapping", metavar="YAML", help="column mapping for files not in the envelope")
    s.add_argument(
        "--from",
        dest="since",
        type=_day_or_instant(False),
        metavar="TIME",
        help="first event time sent: a date (UTC+08:00) or an ISO 8601 instant",
    )
    s.add_argument(
        "--to",
        dest="until",
        type=_day_or_instant(True),
        metavar="TIME",
        help="last day sent (a date, included) or the instant the replay stops before",
    )
    s.add_argument(
        "--types", metavar="T,T", help="event types sent, like application.*,data.access"
    )
    s.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="up to N events a message, as a JSON array (at most 512 KiB), one partition each",
    )
    s.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="record how far each file is sent; run again with it to resume after a crash",
    )
    s.set_defaults(fn=cmd_replay)


def _export_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "export-dispositions",
        help="write the verdicts on clue.dispositions to a JSON lines file (rules backtest "
        "--dispositions reads it)",
    )
    s.add_argument("--out", required=True, help="FILE.jsonl to write")
    s.add_argument("--bootstrap", help="host:port of the broker (default from RISKLOOP_BROKER)")
    s.add_argument(
        "--from", dest="since", metavar="DATE", help="first day of verdicts kept (local time)"
    )
    s.add_argument("--to", dest="until", metavar="DATE", help="last day of verdicts kept")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_export_dispositions)


def _service_parsers(sub: argparse._SubParsersAction) -> None:
    """The long-running parts and their setup: worker, api, topics, demo."""
    s = sub.add_parser("worker", help="run the stream worker (Faust)")
    s.add_argument("--loglevel", default="warning")
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("api", help="run the clue API")
    s.set_defaults(fn=cmd_api)

    s = sub.add_parser("topics", help="create riskloop's topics with their partition counts")
    s.add_argument("action", choices=["create"])
    s.set_defaults(fn=cmd_topics)

    s = sub.add_parser("demo", help="embedded demo: broker, Redis, worker, API, a replayed week")
    s.add_argument("--duration", type=float, help="stop after S seconds (default: Ctrl-C)")
    s.add_argument("--days", type=int, default=7)
    s.add_argument("--seed", type=int, default=42)
    s.set_defaults(fn=cmd_demo)


def _add_optional(sub: argparse._SubParsersAction, module: str) -> None:
    """Subcommands a package contributes through its own ``add_parser(subparsers)``."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the package is there but broken: say so
            raise
        return
    mod.add_parser(sub)


# Besides every UserError (bad input or setup), these mean "a file you named cannot be read":
# both are printed as a message, not a traceback.
FILE_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _install_calendar()
        return int(args.fn(args) or 0)
    except SettingsError as exc:
        print(f"riskloop: bad setting: {exc}", file=sys.stderr)
        return 2
    except CalendarFileError as exc:
        print(f"riskloop {args.command}: RISKLOOP_CALENDAR_FILE: {exc}", file=sys.stderr)
        return 2
    except (UserError, *FILE_ERRORS) as exc:
        print(f"riskloop {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _install_calendar() -> None:
    """Every command counts working days on the same calendar: the statutory one patched by
    ``RISKLOOP_CALENDAR_FILE`` (worker, backtests, rule tests and the clue API alike)."""
    from envelope.calendar_file import install

    install(Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
