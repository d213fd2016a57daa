"""An identifier is one rule key however it was typed: an ID number's check letter as x or X,
full-width digits, stray spaces; an address with or without its province and city. The key is
built in the pure core, so live workers (re-keyed by KeyPlan) and backtests agree."""

from __future__ import annotations

import pytest
from rule_factories import DAY, HOUR, T0, engine, ev, feed, rule

from envelope.events import Event
from rules import RuleSet
from rules.engine.keyspace import KeyPlan
from rules.language.errors import RuleError
from rules.language.fields import Ctx
from rules.types.common import group_key

ID_RULE = """id: visits
title: t
type: threshold
match: {type: a.b}
group_by: [attrs.applicant]
window: 1d
condition: {gte: 4}
"""
ADDRESS_RULE = """id: shared-address
title: t
type: threshold
match: {type: a.b}
group_by: [attrs.address|address]
window: 30d
aggregate: distinct(entity.id)
condition: {gte: 3}
"""
PREFIXES = Ctx("rules/_shared.yaml", lists={"address_prefixes": ("浙江省", "杭州市")})


def enterprise(ts_ms: int, n: int, address: str) -> Event:
    return ev(ts_ms, entity=("enterprise", f"E{n}"), address=address)


@pytest.mark.parametrize(
    "typed",
    [
        "33010619900101123X",
        "33010619900101123x",
        " 33010619900101123x\t",
        "３３０１０６１９９００１０１１２３ｘ",
    ],
)
def test_an_id_number_is_one_key_however_its_check_letter_and_digits_are_typed(
    typed: str,
) -> None:
    assert group_key(rule(ID_RULE), ev(T0, applicant=typed)) == "33010619900101123X"


@pytest.mark.parametrize("other", ["3301061990010112x", "abcdefghijklmnopqx", "box"])
def test_only_an_eighteen_character_id_number_has_its_x_upper_cased(other: str) -> None:
    assert group_key(rule(ID_RULE), ev(T0, applicant=other)) == other


def test_a_blank_key_part_is_a_missing_key_and_the_event_counts_for_no_key() -> None:
    assert group_key(rule(ID_RULE), ev(T0, applicant="  ")) is None


def test_four_visits_typed_four_ways_fire_once_with_the_canonical_key() -> None:
    typed = [
        "33010619900101123X",
        "33010619900101123x",
        "３３０１０６１９９００１０１１２３Ｘ",
        "33010619900101123x ",
    ]
    warnings = feed(engine(ID_RULE), [ev(T0 + i * HOUR, applicant=t) for i, t in enumerate(typed)])
    assert [(w.key, w.value) for w in warnings] == [("33010619900101123X", 4.0)]


@pytest.mark.parametrize(
    "typed",
    [
        "浙江省杭州市西湖区文三路8号",
        "杭州市西湖区文三路8号",
        "浙江省 杭州市 西湖区 文三路８号",
        "杭州市，西湖区文三路8号",
        " 西湖区文三路8号 ",
    ],
)
def test_an_address_with_or_without_province_and_city_is_one_key(typed: str) -> None:
    assert (
        group_key(rule(ADDRESS_RULE, ctx=PREFIXES), enterprise(T0, 1, typed)) == "西湖区文三路8号"
    )


def test_without_a_prefixes_list_an_address_keeps_its_prefix_but_is_tidied() -> None:
    r = rule(ADDRESS_RULE)
    assert group_key(r, enterprise(T0, 1, "杭州市 西湖区文三路８号")) == "杭州市西湖区文三路8号"
    assert group_key(r, enterprise(T0, 1, "No. 8   Wensan Road ")) == "No. 8 Wensan Road"


def test_an_address_that_is_only_a_prefix_stays_itself() -> None:
    assert group_key(rule(ADDRESS_RULE, ctx=PREFIXES), enterprise(T0, 1, "杭州市")) == "杭州市"


def test_three_enterprises_at_one_address_typed_three_ways_fire() -> None:
    typed = ["浙江省杭州市西湖区文三路8号", "杭州市 西湖区文三路８号", "西湖区文三路8号"]
    eng = engine(ADDRESS_RULE, ctx=PREFIXES)
    warnings = feed(eng, [enterprise(T0 + i * DAY, i, t) for i, t in enumerate(typed)])
    assert [(w.key, w.value, w.title) for w in warnings] == [("西湖区文三路8号", 3.0, "t")]


def test_the_live_route_uses_the_normalised_key_and_its_own_key_space() -> None:
    plain = ADDRESS_RULE.replace("id: shared-address", "id: plain").replace("|address", "")
    plan = KeyPlan(RuleSet([rule(ADDRESS_RULE, ctx=PREFIXES), rule(plain)]))
    routes = [
        sorted((ks.name, key) for ks, key in plan.route(enterprise(T0, 1, typed)))
        for typed in ("浙江省杭州市西湖区文三路8号", "西湖区文三路8号")
    ]
    assert routes[0] == [
        ("events:attrs.address", "浙江省杭州市西湖区文三路8号"),
        ("events:attrs.address|address", "西湖区文三路8号"),
    ]
    assert routes[1][1] == routes[0][1]


def test_the_prefixes_list_belongs_to_the_rules_logic() -> None:
    other = Ctx("rules/_shared.yaml", lists={"address_prefixes": ("浙江省",)})
    with_list, other_list = rule(ADDRESS_RULE, ctx=PREFIXES), rule(ADDRESS_RULE, ctx=other)
    assert with_list.lists_used == {"address_prefixes"}
    assert with_list.logic_hash != other_list.logic_hash
    assert with_list.group_by == ("attrs.address",)
    assert with_list.key_parts == ("attrs.address|address",)


def test_an_unknown_normaliser_names_the_file_line_and_the_known_ones() -> None:
    with pytest.raises(RuleError) as err:
        rule(ADDRESS_RULE.replace("|address]", "|adress]"), "rules/bad.yaml")
    assert str(err.value).startswith("rules/bad.yaml:5:")
    assert "unknown normaliser 'adress': use address" in str(err.value)


def test_match_can_compare_an_identifier_as_it_is_keyed() -> None:
    watched = """id: watched
title: t
type: match
match: {type: a.b, attrs.applicant|norm|in: ['33010619900101123X']}
group_by: [attrs.applicant]
"""
    eng = engine(watched)
    typed = ["33010619900101123x", "３３０１０６１９９００１０１１２３Ｘ", "33010619900101124X"]
    warnings = feed(eng, [ev(T0 + i * HOUR, applicant=t) for i, t in enumerate(typed)])
    assert [w.key for w in warnings] == ["33010619900101123X", "33010619900101123X"]
    plain = rule(watched.replace("|norm|in", "|in"))
    assert plain.match is not None
    assert not plain.match.matches(ev(T0, applicant="33010619900101123x"))


def test_match_can_compare_an_address_without_its_prefixes() -> None:
    r = rule(
        ADDRESS_RULE.replace(
            "match: {type: a.b}", "match: {attrs.address|address: 西湖区文三路8号}"
        ),
        ctx=PREFIXES,
    )
    assert r.match is not None and r.lists_used == {"address_prefixes"}
    assert r.match.matches(enterprise(T0, 1, "浙江省杭州市 西湖区文三路８号"))
    assert not r.match.matches(enterprise(T0, 1, "西湖区文三路9号"))


PAIR_RULE = """id: pair
title: t
type: threshold
match: {type: a.b}
group_by: [attrs.a, attrs.b]
window: 1d
condition: {gte: 2}
output:
  title: "{a} at {b}"
"""


def test_a_bar_inside_a_key_part_never_joins_two_keys_and_the_title_shows_the_parts() -> None:
    # ("x|y", "z") and ("x", "y|z") once made the same key "x|y|z" and shared a count.
    mixed = [ev(T0, a="x|y", b="z"), ev(T0 + HOUR, a="x", b="y|z")]
    assert feed(engine(PAIR_RULE), mixed) == []
    same = [ev(T0, a="x|y", b="z"), ev(T0 + HOUR, a="x|y", b="z")]
    (warning,) = feed(engine(PAIR_RULE), same)
    assert warning.title == "x|y at z"
    assert warning.value == 2.0


def test_a_number_is_one_key_however_its_json_spells_it() -> None:
    warnings = feed(
        engine(ID_RULE), [ev(T0 + i * HOUR, applicant=v) for i, v in enumerate([7, 7.0, 7, 7.0])]
    )
    assert [(w.key, w.value) for w in warnings] == [("7", 4.0)]
