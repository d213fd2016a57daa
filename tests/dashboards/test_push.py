"""``dashboards.push`` against a stand-in for Grafana's HTTP API.

Grafana itself cannot run on this machine, so a small ``http.server`` on 127.0.0.1 plays
its part: it answers the folder and dashboard endpoints the way Grafana 11 documents them
and records every request, so the test sees exactly what a real Grafana would receive.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dashboard_checks import REPO

from dashboards.push import main, push

DASHBOARD_UIDS = sorted(
    json.loads(p.read_text("utf-8"))["uid"] for p in (REPO / "dashboards").glob("riskloop-*.json")
)


@dataclass
class FakeGrafana:
    """What the stand-in knows (existing folders) and what it was sent."""

    folders: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    url: str = ""

    def posts(self, path: str) -> list[Any]:
        return [body for method, p, _, body in self.requests if (method, p) == ("POST", path)]


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, dict(self.headers), body))
            return body

        def do_GET(self) -> None:
            self._record()
            uid = self.path.removeprefix("/api/folders/")
            if self.path.startswith("/api/folders/") and uid in state.folders:
                self._reply(200, {"id": 7, "uid": uid, "title": uid})
            else:
                self._reply(404, {"message": "folder not found"})

        def do_POST(self) -> None:
            body = self._record()
            if self.path == "/api/folders":
                state.folders.add(body["uid"])
                self._reply(200, {"id": 7, "uid": body["uid"], "title": body["title"]})
            elif self.path == "/api/dashboards/db":
                uid = body["dashboard"]["uid"]
                self._reply(200, {"status": "success", "uid": uid, "version": 1, "id": 1})
            else:
                self._reply(404, {"message": "not found"})

    return Handler


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_push_creates_the_folder_and_upserts_every_dashboard(grafana: FakeGrafana) -> None:
    uids = push(grafana.url, "glsa_test_token")

    assert grafana.posts("/api/folders") == [{"title": "riskloop", "uid": "riskloop"}]
    sent = grafana.posts("/api/dashboards/db")
    assert len(sent) == len(DASHBOARD_UIDS) == 5
    assert sorted(body["dashboard"]["uid"] for body in sent) == DASHBOARD_UIDS
    assert all(body["overwrite"] is True and body["folderUid"] == "riskloop" for body in sent)
    assert all("id" not in body["dashboard"] and body["dashboard"]["panels"] for body in sent)
    assert sorted(uids) == DASHBOARD_UIDS
    auth = {headers.get("Authorization") for _, _, headers, _ in grafana.requests}
    assert auth == {"Bearer glsa_test_token"}


def test_push_reuses_an_existing_folder_with_basic_auth(grafana: FakeGrafana) -> None:
    grafana.folders.add("ops")

    push(grafana.url, ("admin", "s3cret"), folder="ops")

    assert grafana.posts("/api/folders") == []
    assert {body["folderUid"] for body in grafana.posts("/api/dashboards/db")} == {"ops"}
    expected = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    assert {headers.get("Authorization") for _, _, headers, _ in grafana.requests} == {expected}


def test_pushing_twice_overwrites_instead_of_failing(grafana: FakeGrafana) -> None:
    push(grafana.url, "t")
    push(grafana.url, "t")

    assert len(grafana.posts("/api/folders")) == 1
    assert len(grafana.posts("/api/dashboards/db")) == 10


def test_cli_pushes_and_prints_dashboard_links(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture
) -> None:
    code = main(["--url", grafana.url, "--token", "t", "--folder", "riskloop"])

    assert code == 0
    printed = capsys.readouterr().out.split()
    assert printed == [f"{grafana.url}/d/{uid}" for uid in sorted(DASHBOARD_UIDS, key=_file_order)]


def _file_order(uid: str) -> str:
    return next(
        p.name
        for p in (REPO / "dashboards").glob("riskloop-*.json")
        if json.loads(p.read_text("utf-8"))["uid"] == uid
    )


def test_cli_reports_an_unreachable_grafana(capsys: pytest.CaptureFixture) -> None:
    code = main(["--url", "http://127.0.0.1:9", "--token", "t"])

    assert code == 1
    assert "push failed" in capsys.readouterr().err
