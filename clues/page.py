"""The inspector web page: plain HTML and a little JavaScript, served by the API at ``/ui``.

No build step: ``static/inspector.html`` and ``static/inspector.js`` are sent as they are.
The page asks for a token once (kept in the tab's sessionStorage), then lists the queue with
filters, shows a clue's detail, evidence and audit trail, and offers the actions the caller's
role allows in the clue's status, from ``/ui/meta.json`` (generated from ``clues.model``).
The supervisor overview at ``/ui/supervisor`` (``static/supervisor.html`` and ``.js``) draws
the ``/views/…`` JSON as inline SVG charts and tables, with the same token; nothing is
fetched from another host.

Every answer under ``/ui`` carries ``PAGE_HEADERS``: a Content-Security-Policy that lets the
page load script, style and data from its own origin only (no inline script or style, no
other host), refuses framing, and sends no referrer to the hosts an evidence link opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from clues import model

STATIC = Path(__file__).resolve().parent / "static"
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def meta() -> dict[str, Any]:
    """The state machine and codes, for the page to offer only what is allowed."""
    from clues.routes import ACTIONS

    paths = {action: path for path, action, *_ in ACTIONS}
    return {
        "statuses": list(model.STATUSES),
        "labels": {s: model.STATUS_LABELS.get(s, s) for s in model.STATUSES},
        "colours": list(model.COLOURS),
        "actions": {
            a: {
                "path": paths[a],
                "sources": list(t.sources),
                "roles": list(t.roles),
                "holder": t.holder,
                "override": list(t.override),
            }
            for a, t in model.TRANSITIONS.items()
            if a in paths
        },
        "codes": {
            "disposition": list(model.DISPOSITION_CODES),
            "dismiss": list(model.DISMISS_CODES),
            "false_positive": list(model.FALSE_POSITIVE_REASONS),
            "return": list(model.RETURN_REASONS),
            "suspend": list(model.SUSPEND_REASONS),
            "evidence_required": list(model.EVIDENCE_REQUIRED),
        },
    }


def _file(name: str, media_type: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=media_type, headers=PAGE_HEADERS)


async def inspector_page() -> FileResponse:
    """The inspector page."""
    return _file("inspector.html", "text/html")


async def inspector_js() -> FileResponse:
    return _file("inspector.js", "text/javascript")


async def inspector_css() -> FileResponse:
    return _file("inspector.css", "text/css")


def supervisor_link(api_url: str, token: str) -> str:
    """The overview's address signed in with ``token``: the token rides in the fragment,
    which browsers never send to a server, and the page moves it to the tab's storage.

    >>> supervisor_link("http://127.0.0.1:8000", "rlt_x")
    'http://127.0.0.1:8000/ui/supervisor#token=rlt_x'
    """
    return f"{api_url}/ui/supervisor#token={quote(token, safe='')}"


async def supervisor_page() -> FileResponse:
    """The supervisor overview page."""
    return _file("supervisor.html", "text/html")


async def supervisor_js() -> FileResponse:
    return _file("supervisor.js", "text/javascript")


async def supervisor_css() -> FileResponse:
    return _file("supervisor.css", "text/css")


async def meta_json() -> JSONResponse:
    return JSONResponse(meta(), headers=PAGE_HEADERS)


async def root() -> RedirectResponse:
    return RedirectResponse("/ui", headers=PAGE_HEADERS)


ROUTES: list[BaseRoute] = [
    APIRoute("/", root, methods=["GET"], include_in_schema=False),
    APIRoute("/ui", inspector_page, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/inspector.js", inspector_js, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/inspector.css", inspector_css, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/supervisor", supervisor_page, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/supervisor.js", supervisor_js, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/supervisor.css", supervisor_css, methods=["GET"], include_in_schema=False),
    APIRoute("/ui/meta.json", meta_json, methods=["GET"], include_in_schema=False),
]
