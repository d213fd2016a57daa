"""Push riskloop's dashboards into a running Grafana with grafana-client.

For a Grafana that is not started by docker-compose (where files are provisioned):

    python -m dashboards.push --url http://grafana.example:3000 --token "$GRAFANA_TOKEN"
    python -m dashboards.push --url http://localhost:3000 --basic admin:admin

The folder (uid = title = ``folder``) is created if missing; each ``dashboards/*.json`` is
upserted with ``POST /api/dashboards/db`` and ``overwrite: true``, so pushing twice is safe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

HERE = Path(__file__).resolve().parent
Credential = str | tuple[str, str]


def dashboard_files(folder: Path = HERE) -> list[Path]:
    """The dashboard JSON files to push, in a stable order."""
    return sorted(folder.glob("riskloop-*.json"))


def ensure_folder(api: GrafanaApi, folder: str) -> str:
    """Uid of the Grafana folder ``folder``, created (uid and title ``folder``) if missing."""
    try:
        found: dict[str, Any] = api.folder.get_folder(folder)
    except GrafanaClientError as err:
        if err.status_code != 404:
            raise
        found = api.folder.create_folder(title=folder, uid=folder)
    return str(found.get("uid", folder))


def upsert_dashboard(api: GrafanaApi, dashboard: dict[str, Any], folder_uid: str) -> str:
    """Create or overwrite one dashboard (matched by uid) in the folder; return its uid."""
    body = {k: v for k, v in dashboard.items() if k != "id"}
    payload = {
        "dashboard": body,
        "folderUid": folder_uid,
        "overwrite": True,
        "message": "riskloop: python -m dashboards.push",
    }
    result = api.dashboard.update_dashboard(payload)
    return str(result.get("uid", body.get("uid", "")))


def push(
    url: str,
    token_or_basic: Credential | None,
    folder: str = "riskloop",
    *,
    source: Path = HERE,
    timeout: float = 10.0,
) -> list[str]:
    """Upsert every riskloop dashboard JSON in ``source`` into ``folder`` of the Grafana at
    ``url``. ``token_or_basic`` is an API/service-account token, a ``(user, password)``
    pair, or None to use credentials embedded in ``url``. Returns the uids pushed."""
    files = dashboard_files(source)
    if not files:
        raise FileNotFoundError(f"{source}: no riskloop-*.json; run `python -m dashboards.build`")
    api = GrafanaApi.from_url(url, credential=token_or_basic, timeout=timeout)
    folder_uid = ensure_folder(api, folder)
    return [upsert_dashboard(api, json.loads(f.read_text("utf-8")), folder_uid) for f in files]


def _credential(args: argparse.Namespace) -> Credential | None:
    if args.basic:
        user, sep, password = args.basic.partition(":")
        if not sep:
            raise SystemExit("--basic must look like user:password")
        return (user, password)
    return args.token or os.environ.get("GRAFANA_TOKEN") or None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.push", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("GRAFANA_URL", "http://localhost:3000"))
    parser.add_argument("--token", help="API or service-account token (or env GRAFANA_TOKEN)")
    parser.add_argument("--basic", help="user:password for basic auth instead of a token")
    parser.add_argument("--folder", default="riskloop", help="folder uid and title")
    args = parser.parse_args(argv)
    try:
        uids = push(args.url, _credential(args), args.folder)
    except (GrafanaException, OSError) as err:  # OSError: unreachable host, missing files
        print(f"push failed: {err}", file=sys.stderr)
        return 1
    for uid in uids:
        print(f"{args.url.rstrip('/')}/d/{uid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
