"""A warning leaves the worker with pseudonyms and its originals sealed under the key."""

from __future__ import annotations

import dataclasses

import orjson

from envelope.events import RiskWarning
from envelope.pseudonym import SEALED, Masker

RAW = ("stf-1a2b3c4d", "cit-0eedc8ad0e2b", "13812345678", "110101199003077777")


def _warning() -> RiskWarning:
    return RiskWarning(
        id="w-1",
        fingerprint="fp-1",
        rule_id="approver-burst",
        rule_version=1,
        logic_hash="h",
        severity="high",
        title="Official stf-1a2b3c4d: unusual approval activity",
        key="region=330106|official=stf-1a2b3c4d",
        ts_ms=1,
        region="330106",
        department="market-supervision",
        summary="caller 13812345678, ID 110101199003077777",
        details={
            "entity": {"kind": "staff", "id": "stf-1a2b3c4d"},
            "fields": {"attrs": {"citizen": "cit-0eedc8ad0e2b", "dataset": "household"}},
            "top": {"attrs.applicant": [["cit-0eedc8ad0e2b", 3]]},
        },
    )


def test_a_masked_warning_names_nobody_and_keeps_its_id_and_fingerprint():
    masked = Masker(b"a key of sixteen bytes").mask_warning(_warning())
    text = masked.to_json().decode()
    assert [raw for raw in RAW if raw in text] == []
    assert (masked.id, masked.fingerprint) == ("w-1", "fp-1")
    assert masked.details["fields"]["attrs"]["dataset"] == "household"
    assert masked.details["top"]["attrs.applicant"][0][1] == 3
    # the same person has the same pseudonym in the title, the key and the details
    pid = Masker(b"a key of sixteen bytes").pseudonym("stf-1a2b3c4d")
    assert pid in masked.title and masked.key.endswith(pid)
    assert masked.details["entity"]["id"] == pid


def test_only_the_key_opens_the_originals_and_an_older_key_still_does():
    old, new = b"the old key of 16 bytes", b"the new key of 16 bytes"
    masked = Masker(old).mask_warning(_warning())
    sealed = RiskWarning.from_json(masked.to_json()).details[SEALED]
    assert Masker(b"somebody else's key").unseal(sealed) is None
    opened = Masker(new, older=[old]).unseal(sealed)
    assert opened is not None
    assert opened["title"] == _warning().title and opened["key"] == _warning().key
    assert opened["details"]["fields"]["attrs"]["citizen"] == "cit-0eedc8ad0e2b"
    assert orjson.dumps(opened["details"]) == orjson.dumps(_warning().details)


def test_masking_twice_changes_nothing():
    m = Masker(b"a key of sixteen bytes")
    once = m.mask_warning(_warning())
    assert m.mask_warning(once) == once


def test_a_warning_read_back_by_the_worker_is_the_rules_own():
    m = Masker(b"a key of sixteen bytes")
    read = RiskWarning.from_json(m.mask_warning(_warning()).to_json())
    assert m.unmask_warning(read) == _warning()


def test_a_key_of_bare_values_is_masked_by_the_personal_fields_it_groups():
    details = {
        "entity": {"kind": "enterprise", "id": "e-1"},
        "fields": {"attrs.official": "stf-9z"},
    }
    bare = dataclasses.replace(
        _warning(), key="330106|stf-9z", title="Official stf-9z", details=details
    )
    masked = Masker(b"a key of sixteen bytes").mask_warning(bare)
    assert "stf-9z" not in masked.key + masked.title


def test_a_key_part_is_masked_by_the_field_the_rule_groups_it_by_alone():
    # An anomaly rule grouped by attrs.official names the official in its key and title
    # only: its details (the detector's features) name nobody.
    details = {"entity": {"kind": "citizen", "id": "cit-1"}, "anomaly": {"score": 10.0}}
    bare = dataclasses.replace(
        _warning(), key="stf-77", title="Official stf-77: unusual", summary="", details=details
    )
    masker = Masker(b"a key of sixteen bytes")
    assert "stf-77" in masker.mask_warning(bare).title, "without the rule, a bare part is data"
    masked = masker.mask_warning(bare, ("attrs.official",))
    assert "stf-77" not in masked.key + masked.title
    assert masked.key == masker.pseudonym("stf-77")
    assert masker.unmask_warning(masked).title == "Official stf-77: unusual"
    keep = dataclasses.replace(bare, key="330106|food", title="District 330106: food")
    assert masker.mask_warning(keep, ("region", "attrs.item")).key == "330106|food"
