"""Headers every API answer carries, whatever route or error made it.

- ``X-Content-Type-Options: nosniff``: a browser takes a JSON answer as JSON, never as a page
  or a script it guessed from the bytes (a clue's free text is data, not markup).
- ``Cache-Control: no-store`` on JSON answers that set no policy of their own: they carry
  clues and personal data, which no proxy or browser cache should keep.

The pages under ``/ui`` set their own, stricter headers (:mod:`clues.page`).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseHeaders:
    """ASGI middleware adding the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("application/json"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
