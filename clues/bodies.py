"""Request bodies of the clue API: one pydantic model per action, so the OpenAPI spec lists
every field, every code and every limit (and clients and fuzzers can read them)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from clues import model

Code = Literal[
    "confirmed_violation",
    "rectified",
    "risk_confirmed_no_violation",
    "false_positive",
    "duplicate",
    "not_applicable",
]
DismissCode = Literal["duplicate", "not_applicable", "false_positive"]
FalsePositiveReason = Literal[
    "data_quality", "rule_too_sensitive", "expected_behaviour", "already_handled"
]
ReturnReason = Literal["wrong_region", "wrong_function", "incomplete_information", "duplicate"]
SuspendReason = Literal[
    "awaiting_test", "awaiting_external_assistance", "awaiting_party", "force_majeure"
]
Note = Field(default="", max_length=4000, description="free text for the audit trail")
LABEL_PATTERN = r"^[\w\u4e00-\u9fff.:-]{1,40}$"
Label = Annotated[str, Field(pattern=LABEL_PATTERN)]
# what the store refuses beyond single fields, said in JSON Schema for clients and fuzzers
_FALSE_POSITIVE_NEEDS_SUB_REASON: JsonDict = {
    "if": {"properties": {"code": {"const": "false_positive"}}},
    "then": {"required": ["sub_reason"], "properties": {"sub_reason": {"type": "string"}}},
    "else": {"properties": {"sub_reason": {"type": "null"}}},
}
Name = Field(min_length=1, max_length=100)
# a required free-text field holds more than blanks: the store strips them (Python's str.strip,
# which also takes the separators \x1c-\x1f) and refuses what is left
SOME_TEXT = r"[^\s\x1c-\x1f]"

assert set(Code.__args__) == set(model.DISPOSITION_CODES)  # type: ignore[attr-defined]
assert set(ReturnReason.__args__) == set(model.RETURN_REASONS)  # type: ignore[attr-defined]
assert set(SuspendReason.__args__) == set(model.SUSPEND_REASONS)  # type: ignore[attr-defined]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteBody(Body):
    """Release, resume, submit for review, approve."""

    note: str = Note


class DispatchBody(Body):
    department: str | None = Field(
        default=None, max_length=100, description="default: the warning's department"
    )
    note: str = Note


class ArbitrateBody(Body):
    department: str = Field(
        min_length=1, max_length=100, pattern=SOME_TEXT, description="binding: cannot return"
    )
    note: str = Note


class ReturnBody(Body):
    reason_code: ReturnReason
    note: str = Note


class ClaimBody(Body):
    lease_s: int = Field(
        default=1800, ge=60, le=7 * 24 * 3600, description="lease length in seconds"
    )


class EscalateBody(Body):
    case_ref: str = Field(
        min_length=1, max_length=100, pattern=SOME_TEXT, description="enforcement case number"
    )
    note: str = Note


class SuspendBody(Body):
    reason_code: SuspendReason
    note: str = Note


class ExtensionBody(Body):
    days: int = Field(ge=1, le=60, description="working days to add to the deadline")
    reason: str = Field(min_length=1, max_length=4000, pattern=SOME_TEXT)


class ExtensionDecisionBody(Body):
    decision: Literal["approve", "reject"]
    note: str = Note


# an evidence link the page can open: http or https with a host, no blank or control character
EVIDENCE_URI_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20\x7f]+[^\x00-\x20\x7f]*$"
_EVIDENCE_URI = re.compile(EVIDENCE_URI_PATTERN)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,19}):")


def evidence_uri(uri: str) -> str:
    """An evidence address as given, if it is an http(s) URL with a host; else why not.

    >>> evidence_uri("https://files.example/site/photo-7.jpg")
    'https://files.example/site/photo-7.jpg'
    >>> evidence_uri("javascript:alert(1)")
    Traceback (most recent call last):
    ValueError: evidence uri scheme 'javascript:' is refused: give an http:// or https:// address
    """
    scheme = _SCHEME.match(uri)
    if scheme is None or scheme[1].lower() not in ("http", "https"):
        said = f"scheme {scheme[1].lower() + ':'!r}" if scheme else "without a scheme"
        raise ValueError(f"evidence uri {said} is refused: give an http:// or https:// address")
    if not _EVIDENCE_URI.match(uri):
        raise ValueError(
            "evidence uri needs a host and no blank or control character, like"
            " https://files.example/a.pdf"
        )
    return uri


class EvidenceRef(Body):
    uri: str = Field(
        min_length=1,
        max_length=500,
        description="where the file is kept: an http(s) address",
        json_schema_extra={"pattern": EVIDENCE_URI_PATTERN},
    )
    name: str | None = Field(default=None, max_length=200)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    _check_uri = field_validator("uri")(evidence_uri)


class DisposeBody(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                _FALSE_POSITIVE_NEEDS_SUB_REASON,
                {
                    "if": {"properties": {"code": {"enum": list(model.EVIDENCE_REQUIRED)}}},
                    "then": {"properties": {"evidence_refs": {"minItems": 1}}},
                },
            ]
        },
    )

    code: Code
    sub_reason: FalsePositiveReason | None = Field(
        default=None, description="required for false_positive, only there"
    )
    note: str = Note
    evidence_refs: list[EvidenceRef] = Field(
        default_factory=list, max_length=50, description="required for confirmed outcomes"
    )


class DismissBody(Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"allOf": [_FALSE_POSITIVE_NEEDS_SUB_REASON]}
    )

    code: DismissCode
    sub_reason: FalsePositiveReason | None = None
    note: str = Note


class RejectBody(Body):
    reason: str = Field(
        min_length=1, max_length=4000, pattern=SOME_TEXT, description="what to redo"
    )


class MergeBody(Body):
    into: str = Field(min_length=1, max_length=100, description="id of the clue to merge into")


class CommentBody(Body):
    text: str = Field(min_length=1, max_length=4000, pattern=SOME_TEXT)


class LabelBody(Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # at least one label to add or to remove
            "anyOf": [
                {"required": ["add"], "properties": {"add": {"minItems": 1}}},
                {"required": ["remove"], "properties": {"remove": {"minItems": 1}}},
            ]
        },
    )

    add: list[Label] = Field(default_factory=list, max_length=20)
    remove: list[Label] = Field(default_factory=list, max_length=20)


class EvidenceBody(Body):
    evidence_refs: list[EvidenceRef] = Field(min_length=1, max_length=50)


BulkAction = Literal["dispatch", "claim", "release", "approve", "dismiss", "close"]


class BulkBody(Body):
    action: BulkAction = Field(description="close: approve a reviewed clue, dismiss a new one")
    ids: list[str] = Field(min_length=1, max_length=100)
    args: dict[str, str | int] = Field(default_factory=dict, description="the action's body")


class TokenBody(Body):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    role: Literal["inspector", "lead", "supervisor", "admin"]
    departments: list[str] = Field(default_factory=lambda: ["*"], max_length=50)
    regions: list[str] = Field(default_factory=lambda: ["*"], max_length=50)
    days: int | None = Field(
        default=None, ge=1, description="lifetime; default and maximum are settings"
    )


class RotateBody(Body):
    grace_s: int = Field(
        default=3600, ge=0, le=7 * 86400, description="how long the old token keeps working"
    )
    days: int | None = Field(default=None, ge=1, description="the new token's lifetime")
