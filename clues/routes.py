"""The clue API's endpoints and the explicit route list (``ROUTES``).

Every endpoint but ``/healthz``, ``/metrics`` and the page needs ``Authorization: Bearer
<token>``; every read and write is scoped to the caller's departments and regions (403
otherwise, and nothing changes). Clues are shown with personal identifiers pseudonymised,
except by ``GET /clues/{id}/identity``, which is allowed to the holder, leads, supervisors and
admins (403 for anyone else, with nothing written) and leaves an audit entry. Mutations
accept ``If-Match: <version>``.

(No ``from __future__ import annotations`` here: FastAPI reads the body models from the
annotations of endpoints made in a loop.)
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, HTTPException, Path, Query, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.routing import BaseRoute

from clues import bodies
from clues.access import Principal
from clues.listing import CURSOR_PATTERN, ListQuery
from clues.model import CLUE_ID_PATTERN, STATUS_LABELS, STATUSES, Clue, ClueError
from clues.privacy import personal_values
from clues.replies import responses
from clues.store import ClueStore
from clues.tokens import TokenStore

_bearer = HTTPBearer(auto_error=False, description="a token from `riskloop clues token create`")


async def principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``; 401 when missing or unknown."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if creds is None or not creds.credentials:
        raise HTTPException(401, "missing token: send 'Authorization: Bearer <token>'", challenge)
    tokens: TokenStore = request.app.state.tokens
    who = await tokens.lookup(creds.credentials, _now(request))
    if who is None:
        raise HTTPException(401, "unknown, expired or revoked token", challenge)
    return who


Who = Annotated[Principal, Depends(principal)]
_ONE_STATUS = "|".join(STATUSES)
ClueId = Annotated[str, Path(pattern=CLUE_ID_PATTERN, description="clue- and 20 hex digits")]
IfMatch = Annotated[
    str | None,
    Header(pattern=r'^(W/)?"?[0-9]{1,15}"?$', description="the clue version you last saw"),
]


def _store(request: Request) -> ClueStore:
    store: ClueStore = request.app.state.store
    return store


def _now(request: Request) -> int:
    return int(request.app.state.clock())


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise HTTPException(422, f"If-Match {if_match!r}: send the clue's version, e.g. 7")
    return int(raw)


async def view(store: ClueStore, clue: Clue) -> dict[str, Any]:
    """A clue as every list and detail shows it: identifiers pseudonymised."""
    out = (await store.masker()).clue(clue.to_dict())
    out["status_label"] = STATUS_LABELS.get(clue.status, clue.status)
    return out


# --- reads ----------------------------------------------------------------------------------


async def list_clues(
    request: Request,
    who: Who,
    status: Annotated[
        str | None,
        Query(
            description="status, or several comma-separated",
            json_schema_extra={"pattern": f"^({_ONE_STATUS})(,({_ONE_STATUS}))*$"},
        ),
    ] = None,
    colour: Annotated[Literal["green", "blue", "yellow", "red"] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=200, description="rule id")] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=12, description="region code prefix")] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    mine: Annotated[bool, Query(description="only clues I hold")] = False,
    sort: Annotated[
        Literal["queue", "newest", "oldest", "due"] | None,
        Query(description="queue: one status's work order; with none or several, newest"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor", json_schema_extra={"pattern": CURSOR_PATTERN}),
    ] = None,
) -> dict[str, Any]:
    """A page of the clues the caller may see, filtered and sorted; follow ``next_cursor``."""
    store = _store(request)
    q = ListQuery(
        status=tuple(s.strip() for s in status.split(",") if s.strip()) if status else (),
        colour=colour or None,
        rule_id=rule or None,
        department=store.places.department(department) if department else None,
        region=store.places.region(region) if region else None,
        assignee=who.name if mine else (assignee or None),
        sort=sort or None,
    )
    items, nxt = await store.list(limit=limit, cursor=cursor, query=q, who=who)
    return {"items": [await view(store, c) for c in items], "next_cursor": nxt}


async def audit_view(store: ClueStore, clue: Clue) -> list[dict[str, Any]]:
    """A clue's audit trail as every view shows it: the clue's own personal identifiers
    (wherever a comment or note repeats them) and anything shaped like one pseudonymised."""
    masker = await store.masker()
    known = personal_values(clue.to_dict())
    return [masker.value(e.to_dict(), known) for e in await store.audit(clue.id)]


async def get_clue(request: Request, clue_id: ClueId, who: Who) -> dict[str, Any]:
    """One clue with its audit trail (oldest first) and latest warning ids."""
    store = _store(request)
    clue = await store.get_for(clue_id, who)
    body = await view(store, clue)
    body["audit"] = await audit_view(store, clue)
    body["warning_ids"] = await store.warning_ids(clue_id)
    return body


async def get_identity(request: Request, clue_id: ClueId, who: Who) -> dict[str, Any]:
    """The clue with personal identifiers in clear; the view itself is audited."""
    store = _store(request)
    clue = await store.reveal(clue_id, who, _now(request))
    return (await store.masker()).reveal(clue.to_dict())


async def get_audit(request: Request, clue_id: ClueId, who: Who) -> list[dict[str, Any]]:
    """The clue's audit trail, oldest first: actor, time, reason, fields before and after."""
    store = _store(request)
    return await audit_view(store, await store.get_for(clue_id, who))


# --- transitions ----------------------------------------------------------------------------


async def _act(
    request: Request,
    clue_id: str,
    action: str,
    who: Principal,
    body: BaseModel | None,
    if_match: str | None,
) -> dict[str, Any]:
    store = _store(request)
    args = body.model_dump(exclude_none=True) if body is not None else {}
    clue = await store.transition(clue_id, action, who, _now(request), args, _version(if_match))
    return await view(store, clue)


Endpoint = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def _endpoint(action: str, model: type[BaseModel], optional: bool, doc: str) -> Endpoint:
    if optional:

        async def endpoint(
            request: Request,
            clue_id: ClueId,
            who: Who,
            body: model | None = None,  # type: ignore[valid-type]
            if_match: IfMatch = None,
        ) -> dict[str, Any]:
            return await _act(request, clue_id, action, who, body, if_match)
    else:

        async def endpoint(  # type: ignore[misc]
            request: Request,
            clue_id: ClueId,
            who: Who,
            body: model,  # type: ignore[valid-type]
            if_match: IfMatch = None,
        ) -> dict[str, Any]:
            return await _act(request, clue_id, action, who, body, if_match)

    endpoint.__name__ = f"{action}_clue"
    endpoint.__doc__ = doc
    return endpoint


# (path, action, body, body optional, summary)
ACTIONS: list[tuple[str, str, type[BaseModel], bool, str]] = [
    ("dispatch", "dispatch", bodies.DispatchBody, True, "Dispatch to a department (派单)."),
    ("return", "return", bodies.ReturnBody, False, "Return to the centre with a reason (退单)."),
    ("arbitrate", "arbitrate", bodies.ArbitrateBody, False, "Bind a department (审定)."),
    ("claim", "claim", bodies.ClaimBody, True, "Sign for the clue under a lease (签收)."),
    ("release", "release", bodies.NoteBody, True, "Give the clue back to the queue."),
    ("escalate", "escalate", bodies.EscalateBody, False, "Open an investigation (立案)."),
    ("suspend", "suspend", bodies.SuspendBody, False, "Pause the deadline (挂账)."),
    ("resume", "resume", bodies.NoteBody, True, "Resume; the deadline moves by the pause."),
    ("extension", "request_extension", bodies.ExtensionBody, False, "Ask for more time (延期)."),
    (
        "extension/decision",
        "decide_extension",
        bodies.ExtensionDecisionBody,
        False,
        "Approve or reject the extension request.",
    ),
    ("dispose", "dispose", bodies.DisposeBody, False, "Record the verdict (处置)."),
    ("submit", "submit", bodies.NoteBody, True, "Send the verdict for review (办结审核)."),
    ("approve", "approve", bodies.NoteBody, True, "Close the clue (办结)."),
    ("reject", "reject", bodies.RejectBody, False, "Send back for rework (发回重办)."),
    ("dismiss", "dismiss", bodies.DismissBody, False, "Close a new clue at triage (研判剔除)."),
    ("merge", "merge", bodies.MergeBody, False, "Merge into another open clue."),
    ("comments", "comment", bodies.CommentBody, False, "Add a comment (append-only)."),
    ("labels", "label", bodies.LabelBody, False, "Add or remove labels."),
    ("evidence", "evidence", bodies.EvidenceBody, False, "Attach evidence by reference."),
]


async def bulk(request: Request, body: bodies.BulkBody, who: Who) -> dict[str, Any]:
    """One action on many clues; each item is atomic, the batch is not: per-item results."""
    store, now = _store(request), _now(request)
    results: list[dict[str, Any]] = []
    for cid in dict.fromkeys(body.ids):
        try:
            action = body.action
            if action == "close":
                clue = await store.get_for(cid, who)
                action = "dismiss" if clue.status == "new" else "approve"
            clue = await store.transition(cid, action, who, now, dict(body.args))
            results.append({"id": cid, "ok": True, "status": clue.status, "version": clue.version})
        except ClueError as exc:
            results.append(
                {"id": cid, "ok": False, "error": type(exc).__name__, "detail": str(exc)}
            )
    ok = sum(1 for r in results if r["ok"])
    return {"results": results, "ok": ok, "failed": len(results) - ok}


async def tickets(
    request: Request,
    who: Who,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, str]]:
    """Supervision tickets (督办单) raised for red clues in the caller's scope, newest first."""
    store = _store(request)
    r, keys = store.redis, store.keys
    ids = await r.zrevrange(keys.tickets, 0, 4 * limit)
    pipe = r.pipeline(transaction=False)
    for tid in ids:
        pipe.hgetall(keys.ticket(tid if isinstance(tid, str) else tid.decode()))
    out = []
    for h in await pipe.execute():
        t = {(k if isinstance(k, str) else k.decode()): (v if isinstance(v, str) else v.decode())
             for k, v in h.items()}  # fmt: skip
        visible = t and who.covers(t.get("department", ""), t.get("region", ""))
        if visible and (status is None or t.get("status") == status):
            out.append(t)
    return out[:limit]


async def whoami(who: Who) -> dict[str, Any]:
    """The caller's name, role and scope."""
    return who.to_dict()


READ = responses(401, 403, 404, 422, 503)
STEP = responses(401, 403, 404, 409, 422, 503)
LISTING = responses(401, 422, 503)


def action_routes() -> list[BaseRoute]:
    return [
        APIRoute(
            f"/clues/{{clue_id}}/{path}",
            _endpoint(action, model, opt, doc),
            methods=["POST"],
            summary=doc,
            tags=["transitions"],
            responses=STEP,
        )  # fmt: skip
        for path, action, model, opt, doc in ACTIONS
    ]


ROUTES: list[BaseRoute] = [
    APIRoute("/clues", list_clues, methods=["GET"], tags=["clues"], responses=LISTING),
    APIRoute("/clues/bulk", bulk, methods=["POST"], tags=["transitions"], responses=LISTING),
    APIRoute("/clues/{clue_id}", get_clue, methods=["GET"], tags=["clues"], responses=READ),
    APIRoute("/clues/{clue_id}/audit", get_audit, methods=["GET"], tags=["clues"], responses=READ),
    APIRoute(
        "/clues/{clue_id}/identity", get_identity, methods=["GET"], tags=["clues"], responses=READ
    ),
    *action_routes(),
    APIRoute("/tickets", tickets, methods=["GET"], tags=["supervision"], responses=LISTING),
    APIRoute("/whoami", whoami, methods=["GET"], tags=["access"], responses=responses(401, 503)),
]
