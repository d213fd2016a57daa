"""Factories for the rule-tool tests: rule folders, test files and event files in tmp_path."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

WriteFiles = Callable[..., Path]


@pytest.fixture
def write_files(tmp_path: Path) -> WriteFiles:
    """``write_files("rules", {"a.yaml": text, ...})`` -> the folder, under tmp_path."""

    def write(folder: str, files: dict[str, str]) -> Path:
        root = tmp_path / folder
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return write


def _wired() -> bool:
    """Whether the lead has wired ``rules`` into riskloop's own parser yet."""
    from riskloop.cli import build_parser

    for action in build_parser()._subparsers._group_actions:  # type: ignore[union-attr]
        if isinstance(action, argparse._SubParsersAction) and "rules" in action.choices:
            return True
    return False


@pytest.fixture
def cli() -> Callable[[Sequence[str]], int]:
    """Run ``riskloop rules …`` and return its exit code (through riskloop.cli.main once
    wired, else through add_parser on a fresh parser)."""
    if _wired():
        from riskloop.cli import main

        return lambda argv: main(list(argv))
    from rules.tools.cli import add_parser

    def run(argv: Sequence[str]) -> int:
        parser = argparse.ArgumentParser(prog="riskloop")
        add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(list(argv))
        return int(args.fn(args))

    return run
