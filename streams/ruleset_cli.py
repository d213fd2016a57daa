"""``riskloop ruleset …``: publish a rules folder to every worker, show what is published.

    riskloop ruleset publish rules/library --by "analyst wang"
    riskloop ruleset show
    riskloop ruleset show --out /tmp/running-rules

``publish`` runs the same check as ``riskloop rules check`` first and publishes nothing when
it fails; workers started with ``RISKLOOP_RULES_SOURCE=topic`` switch to the published set
within a second, all to the same version (see :mod:`streams.ruleset_topic`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from envelope.settings import Settings
from envelope.topics import TOPIC_RULESETS

OK, FAILED, USAGE = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("ruleset", help="publish a rule set to every worker (rules.sets)")
    sub = p.add_subparsers(dest="ruleset_command", required=True)
    s = sub.add_parser("publish", help="check a rules folder and publish it to every worker")
    s.add_argument("dir", help="rules folder")
    s.add_argument("--by", help="who publishes it (default: user@host)")
    s.add_argument("--bootstrap", help="host:port of the broker (default from RISKLOOP_BROKER)")
    s.set_defaults(fn=cmd_publish)
    s = sub.add_parser("show", help="the newest published rule set")
    s.add_argument("--out", help="also write its files into this folder (replaced)")
    s.add_argument("--bootstrap", help="host:port of the broker (default from RISKLOOP_BROKER)")
    s.set_defaults(fn=cmd_show)


def _bootstrap(args: argparse.Namespace) -> str:
    return str(args.bootstrap or Settings.from_env().bootstrap)


def cmd_publish(args: argparse.Namespace) -> int:
    from rules.tools.check import check_folder, format_text
    from streams.ruleset_topic import RuleSetRecord, publish

    if not Path(args.dir).is_dir():
        print(f"riskloop ruleset publish: rules folder {args.dir!r} not found", file=sys.stderr)
        return USAGE
    report = check_folder(args.dir, today=datetime.now().date())
    if report.failed("error"):
        print(format_text(report), file=sys.stderr)
        print("riskloop ruleset publish: not published, fix the errors above", file=sys.stderr)
        return FAILED
    by = args.by or f"{getpass.getuser()}@{socket.gethostname()}"
    record = RuleSetRecord.of_folder(args.dir, by=by, now_ms=time.time_ns() // 1_000_000)
    offset = asyncio.run(publish(_bootstrap(args), record))
    print(
        f"published rule set {record.version} ({report.rules} rules) "
        f"to {TOPIC_RULESETS} at offset {offset}"
    )
    return OK


def cmd_show(args: argparse.Namespace) -> int:
    from rules import RuleSetError
    from streams.ruleset_topic import read_all

    records, _ = asyncio.run(read_all(_bootstrap(args)))
    if not records:
        print(f"nothing published on {TOPIC_RULESETS} yet", file=sys.stderr)
        return FAILED
    record = records[-1]
    when = datetime.fromtimestamp(record.published_at_ms / 1000, tz=UTC)
    print(f"version   {record.version}")
    print(f"by        {record.by}")
    print(f"published {when.isoformat(timespec='seconds')}")
    try:
        verdict = f"valid, {len(record.load().rules)} rules"
    except RuleSetError as exc:
        verdict = f"INVALID, workers keep the newest valid set before it:\n{exc}"
    print(f"status    {verdict}")
    print(f"files     {len(record.files)}")
    for name in record.files:
        print(f"  {name}")
    if args.out:
        out = Path(args.out)
        if out.exists():
            shutil.rmtree(out)
        record.write_to(out)
        print(f"written to {args.out}")
    return OK
