"""``riskloop rules check | test | explain | backtest``: the command line of the rule tools.

``add_parser(subparsers)`` adds the ``rules`` command to the riskloop CLI. Every handler
returns an exit code: 0 ok, 1 test failures or lint errors, 2 a usage or load error.
This is the edge: the only place that reads today's date and the settings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from envelope.errors import UserError
from envelope.events import Event
from envelope.settings import Settings
from rules.language.errors import RuleError, RuleSetError
from rules.tools.times import parse_offset_ms

OK, FAILED, USAGE = 0, 1, 2


def _err(message: str) -> int:
    print(f"riskloop rules: {message}", file=sys.stderr)
    return USAGE


def _duration_ms(raw: str) -> int:
    ms = parse_offset_ms(raw)
    if ms is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a duration like '90d' or '6h'")
    return ms


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date like 2026-03-02") from None


def cmd_check(args: argparse.Namespace) -> int:
    from rules.tools.check import check_folder, format_json, format_text

    if not Path(args.dir).is_dir():
        return _err(f"rules folder {args.dir!r} not found")
    retention_ms = args.retention
    if retention_ms is None:  # RISKLOOP_STATE_RETENTION_DAYS, 400 by default
        retention_ms = Settings.from_env().state_retention_days * 86_400_000
    report = check_folder(args.dir, today=args.today or date.today(), retention_ms=retention_ms)
    shown = format_json if args.format == "json" else format_text
    print(shown(report, args.fail_on))
    return FAILED if report.failed(args.fail_on) else OK


def cmd_test(args: argparse.Namespace) -> int:
    from rules.tools.junit import write_junit
    from rules.tools.testing import expand_test_paths, format_results, run_file

    paths = expand_test_paths(args.files)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return _err(f"test file not found: {', '.join(missing)}")
    results = [run_file(p, args.run) for p in paths]
    print(format_results(results))
    if args.junit:
        write_junit(results, args.junit)
    if any(fr.errors for fr in results):
        return USAGE
    if not any(fr.results for fr in results):
        return _err("no tests ran" + (f" (none named like {args.run!r})" if args.run else ""))
    return FAILED if any(fr.failed for fr in results) else OK


def _load_event(path: str) -> Event:
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return Event.from_json(raw.strip())


def _find_rule(ref: str, rules_dir: str) -> tuple[Any, Any]:
    """``(rule, its folder's rule set or None)`` from a rule file or an id in ``rules_dir``."""
    from rules import load_rules
    from rules.language.model import parse_rule

    path = Path(ref)
    if path.is_file():
        try:
            ruleset = load_rules(path.parent)
        except RuleSetError:
            return parse_rule(path.read_text(encoding="utf-8"), str(path)), None
        for rule in ruleset.rules:
            if Path(rule.path).resolve() == path.resolve():
                return rule, ruleset
        return parse_rule(path.read_text(encoding="utf-8"), str(path)), None
    ruleset = load_rules(rules_dir)
    try:
        return ruleset.by_id(ref), ruleset
    except KeyError:
        message = f"no rule with id {ref!r} in this folder: give an id or a rule file"
        raise RuleError(rules_dir, 1, 1, message) from None


def _history(path: str | None) -> list[Event]:
    if path is None:
        return []
    from replay.formats import read_rows

    return [ev for _row, _env, _why, _orig, ev in read_rows(path) if ev is not None]


def cmd_explain(args: argparse.Namespace) -> int:
    from rules.tools.explain import explain, format_explanation

    rules_dir = args.rules or Settings.from_env().rules_dir
    try:
        rule, ruleset = _find_rule(args.rule, rules_dir)
        event = _load_event(args.event)
        history = _history(args.history)
    except RuleSetError as exc:
        return _err(f"cannot load the rules:\n{exc}")
    except (UserError, OSError, ValueError) as exc:  # a bad rule, event or history file
        return _err(str(exc))
    ex = explain(rule, event, history, lateness_ms=args.lateness, ruleset=ruleset)
    print(format_explanation(ex))
    return OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from rules.engine.admission import Bounds
    from rules.tools.backtest import Window, format_text, run_backtest, to_json

    settings = Settings.from_env()
    try:
        bt = run_backtest(
            args.file,
            args.rules or settings.rules_dir,
            window=Window(args.since, args.until),
            against=args.against,
            labels=args.labels,
            dispositions=args.dispositions,
            partitions=args.partitions or settings.partitions,
            partition_field=settings.partition_field,
            lateness_ms=settings.lateness_ms,
            top=args.top,
            tolerance_ms=args.tolerance,
            seed=args.seed,
            bounds=Bounds.from_settings(settings),
        )
    except RuleSetError as exc:
        return _err(f"cannot load the rules:\n{exc}")
    except (UserError, OSError, ValueError) as exc:
        return _err(str(exc))
    print(to_json(bt) if args.format == "json" else format_text(bt))
    return OK


def add_parser(subparsers: Any) -> None:
    """Add ``rules`` with its sub-commands to an argparse sub-parsers object."""
    p = subparsers.add_parser("rules", help="check, test, explain and backtest rules")
    sub = p.add_subparsers(dest="rules_command", required=True)
    _check_parser(sub)
    _test_parser(sub)
    _explain_parser(sub)
    _backtest_parser(sub)


def _check_parser(sub: Any) -> None:
    s = sub.add_parser("check", help="load a rules folder, list parse errors and lint issues")
    s.add_argument("dir", help="rules folder")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--today", type=_day, help="date for expiring exceptions (default: today)")
    s.add_argument(
        "--retention",
        type=_duration_ms,
        help="state retention (default: RISKLOOP_STATE_RETENTION_DAYS, 400 days)",
    )
    s.add_argument(
        "--fail-on",
        choices=["error", "warning", "info"],
        default="error",
        help="lowest lint severity that fails the check (default: error)",
    )
    s.set_defaults(fn=cmd_check)


def _test_parser(sub: Any) -> None:
    s = sub.add_parser("test", help="run rule unit tests (YAML files or folders)")
    s.add_argument("files", nargs="+", help="test files or folders holding them")
    s.add_argument("--run", metavar="REGEX", help="only tests whose name matches")
    s.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    s.set_defaults(fn=cmd_test)


def _explain_parser(sub: Any) -> None:
    s = sub.add_parser("explain", help="show why a rule did or did not react to one event")
    s.add_argument("rule", help="rule id (looked up in --rules) or a rule file")
    s.add_argument("event", help="event JSON file ('-' reads stdin)")
    s.add_argument("--rules", help="rules folder (default: the configured one)")
    s.add_argument("--history", help="event file replayed first (.jsonl, .csv, .parquet)")
    s.add_argument(
        "--lateness", type=_duration_ms, default=0, help="watermark lateness (default 0s)"
    )
    s.set_defaults(fn=cmd_explain)


def _backtest_parser(sub: Any) -> None:
    s = sub.add_parser("backtest", help="warnings a rules folder raises over an event file")
    s.add_argument("file", help="event file (.jsonl, .csv, .parquet)")
    s.add_argument("--rules", help="rules folder (default: the configured one)")
    s.add_argument(
        "--from", dest="since", metavar="DATE", help="first day reported (events before warm up)"
    )
    s.add_argument("--to", dest="until", metavar="DATE", help="last day reported (inclusive)")
    s.add_argument("--against", metavar="DIR", help="another rules folder: new / lost / unchanged")
    s.add_argument("--labels", help="labels file (JSON lines): recall and precision per scenario")
    s.add_argument("--dispositions", help="exported dispositions (JSON lines): precision per rule")
    s.add_argument("--partitions", type=int, help="shard like a topic with N partitions")
    s.add_argument(
        "--seed", metavar="FILE", help="past events the engines learn from first (no warnings)"
    )
    s.add_argument("--top", type=int, default=10, help="how many top keys to list")
    s.add_argument(
        "--tolerance",
        type=_duration_ms,
        default=0,
        help="pair warnings of one rule, key and stage this close in time (diff)",
    )
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(fn=cmd_backtest)
