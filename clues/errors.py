"""Turn a refused Lua step into a typed error with a message a person can act on.

>>> str(error_from_reply("clue-1", "claim", "bob", ["ERR", "BAD_STATE", "claimed", "alice",
...                                                  "", "", "0"]))
'cannot claim clue clue-1: it is already claimed by alice'
>>> type(error_from_reply("clue-1", "dispatch", "bob", ["ERR", "FORBIDDEN", "new", "inspector"]))
<class 'clues.model.Forbidden'>
"""

from __future__ import annotations

from collections.abc import Sequence

from clues.model import (
    READ_ACTIONS,
    TRANSITIONS,
    BadDisposition,
    ClueError,
    ClueNotFound,
    Conflict,
    Forbidden,
    IllegalTransition,
)

_GUARDS = {
    "NEEDS_EVIDENCE": "a {0} disposition needs at least one evidence reference",
    "ARBITRATED": "the dispatch centre's arbitration binds {0}: it cannot be returned again",
    "EXTENSION_PENDING": "an extension request is already waiting for a decision",
    "NO_MORE_EXTENSIONS": "no more extensions: at most {0} per clue",
    "EXTENSION_TOO_LONG": "an extension is at most {0} working days",
    "TOO_LATE": "the deadline has passed: extensions must be requested before it",
    "NO_EXTENSION": "there is no extension request to decide",
    "OWN_EXTENSION": "{0} asked for this extension: another lead or supervisor must decide it",
    "SAME_PERSON": "the reviewer must not be the inspector who disposed of it",
    "MERGE_SELF": "a clue cannot be merged into itself",
    "TARGET_CLOSED": "{0} is {1}: merge into an open clue",
}


def _bad_state(clue_id: str, action: str, actor: str, r: Sequence[str]) -> ClueError:
    status, holder, code, disposer, expired = r[2], r[3], r[4], r[5], r[6] == "1"
    allowed = ", ".join(TRANSITIONS[action].sources) if action in TRANSITIONS else "nothing"
    if expired and action != "claim":
        return IllegalTransition(
            f"cannot {action} clue {clue_id}: the claim's lease expired and it went back to the"
            " department queue; claim it again",
            status,
        )
    if status in ("disposed", "reviewing", "closed") and code:
        return IllegalTransition(
            f"clue {clue_id} is already {status} ({code} by {disposer}); cannot {action} it",
            status,
        )
    if action == "claim" and holder:
        who = "you" if holder == actor else holder
        msg = f"cannot {action} clue {clue_id}: it is already claimed by {who}"
        return IllegalTransition(msg, status)
    hint = "; claim it first" if status == "dispatched" and action != "dispatch" else ""
    return IllegalTransition(
        f"cannot {action} clue {clue_id}: it is {status} (allowed from: {allowed}){hint}", status
    )


def _not_entitled(clue_id: str, action: str, actor: str, r: Sequence[str]) -> ClueError:
    """A holder-only read refused: the caller lacks the right, the clue is in no bad state.

    A read the caller is not entitled to is 403 (``Forbidden``), not 409: trying again in
    another state of the clue would not help them. The refused read writes nothing, no audit
    entry either: like every refused step, it leaves the trail as it was (the trail records
    what happened to the clue, and the view did not happen).
    """
    holder = r[3] if len(r) > 3 and r[3] else ""
    expired = len(r) > 4 and r[4] == "1"
    roles = TRANSITIONS[action].override
    who = " or ".join((", ".join(roles[:-1]), roles[-1])) if len(roles) > 1 else roles[0]
    if expired:
        held = "the claim's lease expired and it went back to the department queue"
    elif holder:
        held = f"it is claimed by {holder}, not {actor}"
    else:
        held = "nobody has claimed it"
    return Forbidden(
        f"{actor} may not see the identities in clue {clue_id}: only the inspector holding it"
        f" or a {who} may, and {held}"
    )


def error_from_reply(clue_id: str, action: str, actor: str, r: Sequence[str]) -> ClueError:
    """The error for a script reply ``{'ERR', CODE, status, detail...}``."""
    code = r[1]
    status = r[2] if len(r) > 2 else None
    if code == "NOT_FOUND":
        return ClueNotFound(clue_id)
    if code == "OUT_OF_SCOPE":
        return Forbidden(f"clue {clue_id} is outside {actor}'s departments and regions")
    if code == "FORBIDDEN":
        return Forbidden(f"a {r[3]} may not {action.replace('_', ' ')} clues")
    if code == "CONFLICT":
        return Conflict(
            f"clue {clue_id} changed (now version {r[3]}); reload it and try again", status
        )
    if code == "BAD_STATE":
        return _bad_state(clue_id, action, actor, r)
    if code == "NOT_HOLDER" and action in READ_ACTIONS:
        return _not_entitled(clue_id, action, actor, r)
    if code == "NOT_HOLDER":
        holder = r[3] or "nobody"
        return IllegalTransition(
            f"cannot {action} clue {clue_id}: it is claimed by {holder}, not {actor}", status
        )
    if code == "TARGET_NOT_FOUND":
        return ClueNotFound(r[3])
    if code in ("NEEDS_EVIDENCE",):
        return BadDisposition(_GUARDS[code].format(*r[3:]))
    if code in _GUARDS:
        return IllegalTransition(
            f"cannot {action} clue {clue_id}: " + _GUARDS[code].format(*r[3:]), status
        )
    return IllegalTransition(f"cannot {action} clue {clue_id}: {code}", status)
