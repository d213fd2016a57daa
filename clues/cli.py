"""``riskloop clues …``: the clue queue from a terminal or a script.

Work on clues goes through the HTTP API with a token, exactly as the web page does, so the
same roles, scopes and audit apply::

    riskloop clues list --status dispatched --mine
    riskloop clues show CLUE_ID
    riskloop clues claim CLUE_ID
    riskloop clues dispose CLUE_ID --code rectified --evidence https://files.example/a.jpg --note ok
    riskloop clues bulk dispatch CLUE_ID CLUE_ID …

``--api`` defaults to ``$RISKLOOP_API_URL`` or ``http://127.0.0.1:<api_port>``, ``--token``
to ``$RISKLOOP_TOKEN``. Tokens themselves are managed in Redis directly (an operator's job,
like creating the first admin): ``riskloop clues token create --name alice --role inspector
--department market-supervision --region 3301`` prints a new token once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

# CLI verb -> (API path, body options it takes)
VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dispatch": ("dispatch", ("department", "note")),
    "return": ("return", ("reason_code", "note")),
    "arbitrate": ("arbitrate", ("department", "note")),
    "claim": ("claim", ("lease_s",)),
    "release": ("release", ("note",)),
    "escalate": ("escalate", ("case_ref", "note")),
    "suspend": ("suspend", ("reason_code", "note")),
    "resume": ("resume", ("note",)),
    "extend": ("extension", ("days", "reason")),
    "decide-extension": ("extension/decision", ("decision", "note")),
    "dispose": ("dispose", ("code", "sub_reason", "note", "evidence")),
    "submit": ("submit", ("note",)),
    "approve": ("approve", ("note",)),
    "reject": ("reject", ("reason",)),
    "dismiss": ("dismiss", ("code", "sub_reason", "note")),
    "merge": ("merge", ("into",)),
    "comment": ("comments", ("text",)),
    "label": ("labels", ("add", "remove")),
    "attach": ("evidence", ("evidence",)),
}
_INT = ("lease_s", "days")
_LIST = ("add", "remove")


def add_parser(subparsers: Any) -> None:
    """Add ``clues`` and its subcommands to the ``riskloop`` parser."""
    p = subparsers.add_parser("clues", help="work the clue queue (list, claim, dispose, tokens)")
    p.add_argument("--api", help="API base URL (default $RISKLOOP_API_URL or local api_port)")
    p.add_argument("--token", help="API token (default $RISKLOOP_TOKEN)")
    p.add_argument("--json", action="store_true", help="print raw JSON")
    sub = p.add_subparsers(dest="clues_command", required=True)

    s = sub.add_parser("list", help="a page of the queue")
    for name in ("status", "colour", "rule", "department", "region", "assignee", "sort", "cursor"):
        s.add_argument(f"--{name}")
    s.add_argument("--mine", action="store_true")
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("show", help="a clue with its audit trail")
    s.add_argument("clue_id")
    s.set_defaults(fn=cmd_show)

    for verb, (_, options) in VERBS.items():
        s = sub.add_parser(verb, help=f"{verb} a clue")
        s.add_argument("clue_id")
        _options(s, options)
        s.add_argument("--if-match", type=int, help="the version you last saw")
        s.set_defaults(fn=cmd_action, verb=verb)

    s = sub.add_parser("bulk", help="one action on many clues, per-item results")
    s.add_argument(
        "action", choices=["dispatch", "claim", "release", "approve", "dismiss", "close"]
    )
    s.add_argument("ids", nargs="+")
    _options(s, ("department", "code", "sub_reason", "note"))
    s.set_defaults(fn=cmd_bulk)

    _token_parsers(sub)


def _options(s: argparse.ArgumentParser, options: tuple[str, ...]) -> None:
    for name in options:
        flag = "--" + name.replace("_", "-")
        if name == "evidence":
            s.add_argument(
                flag, action="append", metavar="URI", help="evidence address (http or https)"
            )
        elif name in _LIST:
            s.add_argument(flag, action="append", metavar="LABEL")
        else:
            s.add_argument(flag, type=int if name in _INT else str)


def _token_parsers(sub: Any) -> None:
    t = sub.add_parser("token", help="manage API tokens (directly in Redis)")
    tsub = t.add_subparsers(dest="token_command", required=True)
    s = tsub.add_parser("create", help="create a token and print it (once)")
    s.add_argument("--name", required=True)
    s.add_argument("--role", required=True, choices=["inspector", "lead", "supervisor", "admin"])
    s.add_argument("--department", action="append", help="repeat for several; default all")
    s.add_argument("--region", action="append", help="region code prefix; default all")
    s.set_defaults(fn=cmd_token_create)
    s = tsub.add_parser("list", help="token ids (hashes) and who they stand for")
    s.set_defaults(fn=cmd_token_list)
    s = tsub.add_parser("revoke", help="revoke a token by its id")
    s.add_argument("token_id")
    s.set_defaults(fn=cmd_token_revoke)


# --- HTTP -------------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    import httpx

    from envelope.settings import Settings

    base = args.api or os.environ.get("RISKLOOP_API_URL")
    if not base:
        base = f"http://127.0.0.1:{Settings.from_env().api_port}"
    token = args.token or os.environ.get("RISKLOOP_TOKEN")
    if not token:
        raise SystemExit("riskloop clues: no token: pass --token or set RISKLOOP_TOKEN")
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _call(args: argparse.Namespace, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    with _client(args) as c:
        resp = c.request(method, path, **kw)
    try:
        body = resp.json()
    except ValueError:
        body = {"detail": resp.text}
    if resp.status_code >= 400:
        detail = body.get("detail") if isinstance(body, dict) else body
        print(f"riskloop clues: {resp.status_code}: {detail}", file=sys.stderr)
        return 1, body
    return 0, body


def _print(args: argparse.Namespace, body: Any, line: str) -> None:
    print(json.dumps(body, ensure_ascii=False, indent=2) if args.json else line)


def _row(c: dict[str, Any]) -> str:
    holder = c.get("claimed_by") or "-"
    return (
        f"{c['id']}  {c['status_label']:<16} {c.get('colour') or '-':<6} p{c['priority']}"
        f"  {c['department']}/{c['region']}  {holder:<12} {c['title']}"
    )


def cmd_list(args: argparse.Namespace) -> int:
    params = {k: getattr(args, k) for k in ("status", "colour", "rule", "department", "region")}
    params |= {k: getattr(args, k) for k in ("assignee", "sort", "cursor")}
    params = {k: v for k, v in params.items() if v} | {"limit": args.limit}
    if args.mine:
        params["mine"] = "true"
    code, body = _call(args, "GET", "/clues", params=params)
    if code == 0:
        lines = [_row(c) for c in body["items"]]
        if body.get("next_cursor"):
            lines.append(f"more: --cursor {body['next_cursor']}")
        _print(args, body, "\n".join(lines) or "(no clues)")
    return code


def cmd_show(args: argparse.Namespace) -> int:
    code, body = _call(args, "GET", f"/clues/{args.clue_id}")
    if code == 0:
        trail = [
            f"  {e['ts_ms']}  {e['actor']:<12} {e['action']:<18} {e['from']} -> {e['to']}"
            f"  {e['reason']}"
            for e in body["audit"]
        ]
        _print(args, body, _row(body) + "\n" + "\n".join(trail))
    return code


def _body(args: argparse.Namespace, options: tuple[str, ...]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in options:
        v = getattr(args, name, None)
        if v is None:
            continue
        if name == "evidence":
            body["evidence_refs"] = [{"uri": u} for u in v]
        else:
            body[name] = v
    return body


def cmd_action(args: argparse.Namespace) -> int:
    path, options = VERBS[args.verb]
    headers = {"If-Match": str(args.if_match)} if args.if_match is not None else {}
    code, body = _call(
        args, "POST", f"/clues/{args.clue_id}/{path}", json=_body(args, options), headers=headers
    )
    if code == 0:
        _print(args, body, f"{body['id']}: {body['status_label']} (version {body['version']})")
    return code


def cmd_bulk(args: argparse.Namespace) -> int:
    payload = {"action": args.action, "ids": args.ids}
    payload["args"] = _body(args, ("department", "code", "sub_reason", "note"))
    code, body = _call(args, "POST", "/clues/bulk", json=payload)
    if code == 0:
        lines = [
            f"{r['id']}: " + (r["status"] if r["ok"] else f"FAILED {r['detail']}")
            for r in body["results"]
        ]
        _print(args, body, "\n".join(lines))
        return 0 if body["failed"] == 0 else 1
    return code


# --- tokens (Redis) ---------------------------------------------------------------------------


def _tokens(fn: Any) -> Any:
    import asyncio

    import redis.asyncio as aioredis

    from clues.tokens import TokenStore
    from envelope.settings import Settings

    async def run() -> Any:
        client = aioredis.from_url(Settings.from_env().redis_url, decode_responses=True)
        try:
            return await fn(TokenStore(client))
        finally:
            await client.aclose()

    return asyncio.run(run())


def cmd_token_create(args: argparse.Namespace) -> int:
    from clues.access import make_principal

    try:
        who = make_principal(args.name, args.role, args.department, args.region)
    except ValueError as exc:
        print(f"riskloop clues token: {exc}", file=sys.stderr)
        return 2
    token = _tokens(lambda ts: ts.create(who, created_by="cli"))
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    rows = _tokens(lambda ts: ts.all())
    for r in rows:
        scope = f"{','.join(r['departments'])} {','.join(r['regions'])}"
        print(f"{r['id']}  {r['name']:<16} {r['role']:<10} {scope}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    if _tokens(lambda ts: ts.revoke(args.token_id)):
        print(f"revoked {args.token_id}")
        return 0
    print(f"riskloop clues token: no token with id {args.token_id}", file=sys.stderr)
    return 1
