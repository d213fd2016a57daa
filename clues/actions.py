"""Validate a caller's arguments for an action and derive what the Lua step needs.

Pure module: the clue as read, the caller, the time, the deadline policy and the calendar
come in; a flat dict of strings (the transition script's ``args``) comes out, or a
``BadDisposition`` (HTTP 422) naming the field and the valid values. Deadlines are computed
here, in Python, because the calendar lives here; the store passes the clue's version with
them, so a clue that changed in between is refused rather than given a stale deadline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from clues import model
from clues.access import Principal
from clues.model import BadDisposition, Clue, Forbidden, IllegalTransition
from clues.places import Places
from clues.workdays import (
    DeadlinePolicy,
    Terms,
    WorkCalendar,
    colour,
    deadline_estimated,
    deadline_ms,
    extend_ms,
)

Args = Mapping[str, Any]
MAX_TEXT = 4000
MIN_LEASE_S, MAX_LEASE_S = 60, 7 * 24 * 3600
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LABEL = re.compile(r"^[\w\u4e00-\u9fff.:-]{1,40}$")


# Actions whose arguments depend on the clue as it is (deadlines, the published verdict):
# the store reads the clue first and runs the step only if it is still that version.
READS_CLUE = frozenset(("dispatch", "arbitrate", "request_extension", "dispose", "dismiss"))


class Context:
    """What preparing an action may look at besides the arguments."""

    def __init__(
        self,
        clue: Clue | None,
        who: Principal,
        now_ms: int,
        policy: DeadlinePolicy,
        calendar: WorkCalendar,
        places: Places | None = None,
    ) -> None:
        self._clue, self.who, self.now_ms = clue, who, now_ms
        self.policy, self.calendar = policy, calendar
        self.places = places or Places()

    @property
    def clue(self) -> Clue:
        assert self._clue is not None, "this action reads the clue: list it in READS_CLUE"
        return self._clue


def _text(args: Args, name: str, required: bool = False, limit: int = MAX_TEXT) -> str:
    v = args.get(name, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise BadDisposition(f"{name} must be text")
    v = v.strip()
    if required and not v:
        raise BadDisposition(f"{name} is required")
    if len(v) > limit:
        raise BadDisposition(f"{name} is longer than {limit} characters")
    return v


def _choice(args: Args, name: str, choices: tuple[str, ...]) -> str:
    v = args.get(name)
    if v not in choices:
        raise BadDisposition(f"{name} {v!r} is not valid; use one of {', '.join(choices)}")
    return str(v)


def _int(args: Args, name: str, lo: int, hi: int, default: int | None = None) -> int:
    v = args.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise BadDisposition(f"{name} must be a whole number from {lo} to {hi}, got {v!r}")
    return v


def evidence_refs(raw: Any) -> list[dict[str, str]]:
    """Validated attachments by reference: ``{uri, name?, sha256?}`` each."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 50:
        raise BadDisposition("evidence_refs must be a list of at most 50 {uri, name, sha256}")
    out = []
    for i, ref in enumerate(raw):
        if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str) or not ref["uri"]:
            raise BadDisposition(f"evidence_refs[{i}] needs a uri (where the file is kept)")
        item = {"uri": ref["uri"][:500]}
        for name in ("name", "sha256"):
            if ref.get(name):
                item[name] = str(ref[name])[:200]
        if "sha256" in item and not _SHA256.match(item["sha256"]):
            raise BadDisposition(f"evidence_refs[{i}].sha256 must be 64 lowercase hex digits")
        out.append(item)
    return out


def _department(ctx: Context, args: Args, required: bool) -> str:
    """The department named (checked against the known ones), else the clue's own."""
    named = _text(args, "department", required, 100)
    dept = ctx.places.department(named) if named else ctx.clue.department
    if ctx.who.departments is not None and dept not in ctx.who.departments:
        raise Forbidden(f"{ctx.who.name} cannot route clues to {dept!r}: outside their scope")
    return dept


def _terms(ctx: Context, dept: str) -> Terms:
    return ctx.policy.lookup(dept, ctx.clue.severity)


def _dispatch(ctx: Context, args: Args) -> dict[str, str]:
    dept = _department(ctx, args, required=False)
    terms = _terms(ctx, dept)
    now, cal = ctx.now_ms, ctx.calendar
    due = deadline_ms(now, terms.dispose_days, cal)
    sign_due = deadline_ms(now, terms.sign_days, cal)
    snapshot = {**terms.to_dict(), "category": dept, "severity": ctx.clue.severity}
    counted_to = sign_due if ctx.clue.due_ms is not None else max(due, sign_due)
    return {
        "department": dept,
        "due_ms": str(due),
        "sign_due_ms": str(sign_due),
        "sla": orjson.dumps(snapshot).decode(),
        "colour": colour(now, due, sign_due, False, terms, cal),
        "estimated": _flag(deadline_estimated(now, counted_to, cal)),
        "reason": f"to {dept}" + _note(args),
    }


def _flag(value: bool) -> str:
    return "1" if value else ""


def _note(args: Args) -> str:
    note = _text(args, "note")
    return f": {note}" if note else ""


def _arbitrate(ctx: Context, args: Args) -> dict[str, str]:
    dept = _department(ctx, args, required=True)
    terms = Terms.from_dict(ctx.clue.sla) if ctx.clue.sla else _terms(ctx, dept)
    sign_due = deadline_ms(ctx.now_ms, terms.sign_days, ctx.calendar)
    return {
        "department": dept,
        "sign_due_ms": str(sign_due),
        "estimated": _flag(deadline_estimated(ctx.now_ms, sign_due, ctx.calendar)),
        "reason": f"to {dept}" + _note(args),
    }


def _return(ctx: Context, args: Args) -> dict[str, str]:
    code = _choice(args, "reason_code", model.RETURN_REASONS)
    return {"reason_code": code, "reason": code + _note(args)}


def _claim(ctx: Context, args: Args) -> dict[str, str]:
    lease_s = _int(args, "lease_s", MIN_LEASE_S, MAX_LEASE_S, default=1800)
    return {"lease_ms": str(lease_s * 1000)}


def _escalate(ctx: Context, args: Args) -> dict[str, str]:
    case_ref = _text(args, "case_ref", True, 100)
    return {"case_ref": case_ref, "reason": f"case {case_ref}" + _note(args)}


def _suspend(ctx: Context, args: Args) -> dict[str, str]:
    code = _choice(args, "reason_code", model.SUSPEND_REASONS)
    return {"reason_code": code, "reason": code + _note(args)}


def _request_extension(ctx: Context, args: Args) -> dict[str, str]:
    days = _int(args, "days", 1, 60)
    reason = _text(args, "reason", True)
    if ctx.clue.due_ms is None:
        raise IllegalTransition("this clue has no deadline to extend", ctx.clue.status)
    new_due = extend_ms(ctx.clue.due_ms, days, ctx.calendar)
    return {
        "days": str(days),
        "new_due_ms": str(new_due),
        "estimated": _flag(deadline_estimated(ctx.clue.due_ms, new_due, ctx.calendar)),
        "reason": reason,
    }


def _decide_extension(ctx: Context, args: Args) -> dict[str, str]:
    decision = _choice(args, "decision", ("approve", "reject"))
    return {"decision": decision, "reason": decision + _note(args)}


def _verdict(args: Args, codes: tuple[str, ...]) -> dict[str, str]:
    code = _choice(args, "code", codes)
    sub = _text(args, "sub_reason", False, 100)
    if code == "false_positive":
        sub = _choice({"sub_reason": sub}, "sub_reason", model.FALSE_POSITIVE_REASONS)
    elif sub:
        raise BadDisposition(f"sub_reason is only for false_positive, not {code}")
    return {
        "code": code,
        "outcome": model.outcome_of(code),
        "sub_reason": sub,
        "note": _text(args, "note"),
        "reason": code + (f"/{sub}" if sub else ""),
    }


def _dispose(ctx: Context, args: Args) -> dict[str, str]:
    out = _verdict(args, tuple(model.DISPOSITION_CODES))
    out["evidence_refs"] = orjson.dumps(evidence_refs(args.get("evidence_refs"))).decode()
    return out


def _dismiss(ctx: Context, args: Args) -> dict[str, str]:
    return _verdict(args, model.DISMISS_CODES)


def _reject(ctx: Context, args: Args) -> dict[str, str]:
    return {"reason": _text(args, "reason", True)}


def _comment(ctx: Context, args: Args) -> dict[str, str]:
    return {"reason": _text(args, "text", True)}


def _labels(raw: Any, name: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) and _LABEL.match(x) for x in raw):
        raise BadDisposition(f"{name} must be a list of labels (1-40 letters, digits, . : _ -)")
    return list(raw)


def _label(ctx: Context, args: Args) -> dict[str, str]:
    add, remove = _labels(args.get("add"), "add"), _labels(args.get("remove"), "remove")
    if not add and not remove:
        raise BadDisposition("give labels to add or remove")
    return {
        "add": orjson.dumps(add).decode(),
        "remove": orjson.dumps(remove).decode(),
        "reason": " ".join([*(f"+{x}" for x in add), *(f"-{x}" for x in remove)]),
    }


def _evidence(ctx: Context, args: Args) -> dict[str, str]:
    refs = evidence_refs(args.get("evidence_refs"))
    if not refs:
        raise BadDisposition("evidence_refs must name at least one attachment")
    names = ", ".join(r.get("name") or r["uri"] for r in refs)
    return {"evidence_refs": orjson.dumps(refs).decode(), "reason": names}


def _plain(ctx: Context, args: Args) -> dict[str, str]:
    return {"reason": _text(args, "note")}


PREPARE: dict[str, Callable[[Context, Args], dict[str, str]]] = {
    "dispatch": _dispatch,
    "return": _return,
    "arbitrate": _arbitrate,
    "claim": _claim,
    "release": _plain,
    "escalate": _escalate,
    "suspend": _suspend,
    "resume": _plain,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "dispose": _dispose,
    "submit": _plain,
    "approve": _plain,
    "reject": _reject,
    "dismiss": _dismiss,
    "comment": _comment,
    "label": _label,
    "evidence": _evidence,
    "reveal": lambda ctx, args: {"reason": "identity viewed"},
}


def prepare(action: str, ctx: Context, args: Args) -> dict[str, str]:
    """The transition script's args for ``action`` (merge is prepared by the store)."""
    try:
        fn = PREPARE[action]
    except KeyError:
        raise BadDisposition(f"unknown action {action!r}") from None
    return fn(ctx, args)
