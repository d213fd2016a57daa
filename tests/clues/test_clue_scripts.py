"""The clue store's Lua is package data: every ``clues/lua/*.lua`` file is found through
``importlib.resources``, ships with the package, and Redis compiles it, alone and as the
assembled script the store registers."""

from __future__ import annotations

import hashlib
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import redis

from clues import scripts

LUA = resources.files("clues").joinpath("lua")
ASSEMBLED = (scripts.UPSERT, scripts.REAP, scripts.SLA_STEP, scripts.TRANSITION, scripts.LIST)


def _lua_files() -> list[str]:
    return sorted(p.name for p in LUA.iterdir() if p.name.endswith(".lua"))


def test_every_lua_file_is_package_data_and_a_part_of_the_scripts() -> None:
    assert _lua_files() == sorted(f"{n}.lua" for n in scripts.LUA_FILES)
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["clues"]
    assert all(any(fnmatch(f"lua/{n}", g) for g in globs) for n in _lua_files())
    assert all(scripts.PRELUDE in s for s in ASSEMBLED)
    for name in scripts.LUA_FILES:
        assert any(scripts.lua_source(name) in s for s in ASSEMBLED), name


def test_every_lua_file_and_every_assembled_script_loads_on_redis(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        texts = [LUA.joinpath(n).read_text(encoding="utf-8") for n in _lua_files()]
        texts += ASSEMBLED
        for text in texts:
            sha = r.script_load(text)
            assert sha == hashlib.sha1(text.encode()).hexdigest()
            assert r.script_exists(sha) == [True]
    finally:
        r.close()
