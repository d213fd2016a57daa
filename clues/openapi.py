"""The OpenAPI document says what the API accepts: the configured departments and regions.

FastAPI writes the document from the endpoints and body models; what depends on the
deployment is added here, once, when the document is first asked for: every ``department``
(a body field or a query parameter) lists the known departments, every ``departments`` of a
token lists them and ``*``, and ``region`` / ``regions`` carry a pattern of the known codes
(a code inside a known region, or a wider one around it). So a client, or a fuzzer, that
follows the document sends nothing the API refuses for being unknown.

>>> region_pattern(("3301", "3302"))
'^(?:3|33|330|3301[0-9]{0,8}|3302[0-9]{0,8})$'
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from clues.places import Places


def region_pattern(regions: tuple[str, ...]) -> str:
    """A regular expression of the codes ``Places.region`` accepts."""
    wider = sorted({r[:n] for r in regions for n in range(1, len(r))}, key=lambda x: (len(x), x))
    inside = [f"{re.escape(r)}[0-9]{{0,{max(0, 12 - len(r))}}}" for r in sorted(set(regions))]
    return "^(?:" + "|".join([*(re.escape(w) for w in wider if w not in regions), *inside]) + ")$"


def _strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string schemas inside ``schema`` (itself, or the branches of an anyOf)."""
    if schema.get("type") == "string":
        return [schema]
    return [s for s in schema.get("anyOf", ()) if s.get("type") == "string"]


def _patch(schema: dict[str, Any], name: str, places: Places) -> None:
    depts, pattern = sorted(places.departments), region_pattern(places.regions)
    if name == "department":
        for s in _strings(schema):
            s["enum"] = depts
    elif name == "region":
        for s in _strings(schema):
            s["pattern"] = pattern
    elif name == "departments" and "items" in schema:
        schema["items"] = {"type": "string", "enum": ["*", *depts]}
    elif name == "regions" and "items" in schema:
        schema["items"] = {"type": "string", "pattern": pattern[:-2] + r"|\*)$"}


def _not_null(param: dict[str, Any]) -> None:
    """A parameter is absent or a string: it is never JSON ``null`` on the wire."""
    schema = param.get("schema", {})
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1 and len(branches) < len(schema.get("anyOf", ())):
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        param["schema"] = {**branches[0], **rest}


def with_places(doc: dict[str, Any], places: Places) -> dict[str, Any]:
    """``doc`` with the known departments and regions written into it (in place)."""
    for body in doc.get("components", {}).get("schemas", {}).values():
        for name, prop in body.get("properties", {}).items():
            _patch(prop, name, places)
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            for param in op.get("parameters", ()):
                _not_null(param)
                _patch(param.get("schema", {}), param["name"], places)
    return doc


def describe(app: FastAPI, places: Places) -> None:
    """Make ``app.openapi()`` return the document with ``places`` in it."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_places(plain(), places)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
