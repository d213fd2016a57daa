"""The calendar patch file (``RISKLOOP_CALENDAR_FILE``): holidays the package does not know yet.

The ``chinese-calendar`` package only covers the years whose State Council holiday notice
it has shipped. Until a release covers the next year, list that year's days here::

    # 国务院办公厅关于2027年部分节假日安排的通知
    holidays: [2027-01-01, 2027-02-06, 2027-02-07, ...]   # days off, weekends included
    workdays: [2027-02-13]                                # make-up workdays (调休上班)

A year with at least one listed day counts as covered: its unlisted days follow Monday to
Friday without a warning, and deadlines counted across it are not marked estimated. Days of
years the package covers may be listed too (a correction wins over the package).

``install(settings)`` loads the file and installs it for the whole process, the rule engine
(``envelope.calendar``) and the clue deadlines (``clues.workdays``) alike; every service calls
it once at start-up, before it computes a working day. A bad file raises
:class:`CalendarFileError` naming ``file:line`` and the fix.

Examples:
    >>> patch = parse_calendar("holidays: [2199-01-01]\\nworkdays: [2199-01-05]\\n", "cal.yaml")
    >>> patch.overrides()
    {datetime.date(2199, 1, 1): False, datetime.date(2199, 1, 5): True}
    >>> parse_calendar("holidays: [2199-02-30]\\n", "cal.yaml")
    Traceback (most recent call last):
    ...
    envelope.calendar_file.CalendarFileError: cal.yaml:1: '2199-02-30' is not a date: write days as YYYY-MM-DD, e.g. 2027-01-01
"""  # noqa: E501

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from envelope import calendar
from envelope.errors import UserError
from envelope.settings import Settings

log = logging.getLogger(__name__)

KEYS = ("holidays", "workdays")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarFileError(UserError, ValueError):
    """A calendar patch file that cannot be used: ``path:line: message``."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        super().__init__(message, path, line)


@dataclass(frozen=True)
class CalendarPatch:
    """Listed holidays and make-up workdays, and the file they came from ("" = none)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    path: str = ""

    def overrides(self) -> dict[date, bool]:
        """date -> is a working day, in date order."""
        days = {d: False for d in self.holidays} | {d: True for d in self.workdays}
        return dict(sorted(days.items()))

    def years(self) -> list[int]:
        """The years the patch covers (those with a listed day)."""
        return sorted({d.year for d in self.holidays | self.workdays})


def parse_calendar(text: str, path: str) -> CalendarPatch:
    """The patch in ``text`` (YAML); ``path`` is for messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise CalendarFileError(path, line, f"not valid YAML ({exc.problem}): fix it") from None
    except yaml.YAMLError as exc:
        raise CalendarFileError(path, 1, f"not valid YAML ({exc}): fix it") from None
    if root is None:
        return CalendarPatch(path=path)
    if not isinstance(root, yaml.MappingNode):
        raise CalendarFileError(path, _line(root), _SHAPE)
    lists: dict[str, dict[date, int]] = {}
    for key_node, value_node in root.value:
        name = str(key_node.value)
        if name not in KEYS:
            hint = "holidays (days off) and workdays (make-up workdays)"
            raise CalendarFileError(path, _line(key_node), f"unknown key {name!r}: use {hint}")
        if name in lists:
            raise CalendarFileError(path, _line(key_node), f"{name} is given twice: merge them")
        lists[name] = _days(value_node, name, path)
    holidays, workdays = lists.get("holidays", {}), lists.get("workdays", {})
    _check(holidays, workdays, path)
    return CalendarPatch(frozenset(holidays), frozenset(workdays), path)


_SHAPE = "the calendar file must be a mapping: 'holidays: [YYYY-MM-DD, ...]' and 'workdays: [...]'"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _days(node: yaml.Node, name: str, path: str) -> dict[date, int]:
    """The dates of one list, each with its line."""
    if not isinstance(node, yaml.SequenceNode):
        raise CalendarFileError(
            path, _line(node), f"{name} must be a list of days like [2027-01-01, 2027-01-02]"
        )
    out: dict[date, int] = {}
    for item in node.value:
        raw = item.value if isinstance(item, yaml.ScalarNode) else "a nested value"
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            raise CalendarFileError(
                path,
                _line(item),
                f"{raw!r} is not a date: write days as YYYY-MM-DD, e.g. 2027-01-01",
            ) from None
        out.setdefault(day, _line(item))
    return out


def _check(holidays: dict[date, int], workdays: dict[date, int], path: str) -> None:
    for day, line in workdays.items():
        if day in holidays:
            raise CalendarFileError(
                path,
                line,
                f"{day} is both a holiday (line {holidays[day]}) and a make-up workday: "
                "keep it in one list",
            )
        if day.weekday() < 5:
            raise CalendarFileError(
                path,
                line,
                f"{day} is a {_WEEKDAYS[day.weekday()]}, already a working day: make-up "
                "workdays are Saturdays or Sundays; check the date",
            )


def load_calendar(path: str | Path) -> CalendarPatch:
    """The patch in the file at ``path``; CalendarFileError if it is missing or bad."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError(str(path), 1, f"cannot read the calendar file: {exc}") from None
    return parse_calendar(text, str(path))


def install(settings: Settings) -> CalendarPatch:
    """Load ``settings.calendar_file`` (empty: no patch) and install it for this process.

    Call once at start-up, before any working day is computed: the clue API does; the
    worker and the backtest should too. Raises CalendarFileError for a bad file.
    """
    patch = load_calendar(settings.calendar_file) if settings.calendar_file else CalendarPatch()
    calendar.install_overrides(patch.overrides())
    if patch.path:
        log.info(
            "calendar patch %s: %d holidays, %d make-up workdays, years %s",
            patch.path,
            len(patch.holidays),
            len(patch.workdays),
            ", ".join(map(str, patch.years())) or "none",
        )
    return patch
