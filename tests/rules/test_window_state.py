"""What a windowed rule keeps per key: compact (lists, the captured fields of the newest
event rather than the event), and a key checkpointed by an older release (deques, the whole
event) still loads and raises the same warnings."""

import pickle
from collections import deque

from rule_factories import MIN, T0, engine, ev

from rules.tools.bench import deep_size
from rules.types.windowed import Window

RULE = (
    "id: th\ntitle: t\ntype: threshold\nmatch: {type: a.b}\ngroup_by: [attrs.k]\n"
    "window: 10m\ncondition: {gte: 3}\nresolve: {on: cleared}\n"
    "output: {fields: [attrs.channel]}\n"
)


def reads(n: int, start: int = 0):
    return [ev(T0 + (start + i) * MIN, k="x", channel=f"ch-{i}") for i in range(n)]


def as_older_release(win: Window, last) -> Window:
    """The window as an older release pickled it: deques, and the whole newest event."""
    old = Window.__new__(Window)
    for name in Window.__slots__:
        object.__setattr__(old, name, getattr(win, name))
    old.entries, old.past, old.last = deque(win.entries), deque(win.past), last
    return pickle.loads(pickle.dumps(old, protocol=5))


def test_a_window_of_an_older_release_loads_and_raises_the_same_warnings():
    first, later = reads(2), reads(3, start=2)
    straight = engine(RULE)
    expected = [w.to_dict() for e in first + later for w in straight.process(e)]
    expected += [w.to_dict() for w in straight.advance_to(T0 + 60 * MIN)]
    assert [w["stage"] for w in expected] == ["fired", "resolved"]

    eng = engine(RULE)
    for e in first:
        eng.process(e)
    keys = eng.runners[0].state.keys
    (key,) = keys
    keys[key] = as_older_release(keys[key], first[-1])
    assert isinstance(keys[key].entries, list) and isinstance(keys[key].past, list)
    got = [w.to_dict() for e in later for w in eng.process(e)]
    got += [w.to_dict() for w in eng.advance_to(T0 + 60 * MIN)]
    assert got == expected


def test_a_key_keeps_the_fields_a_warning_needs_not_the_event():
    eng = engine(RULE)
    for e in reads(2):
        eng.process(e)
    (win,) = eng.runners[0].state.keys.values()
    assert isinstance(win.last, tuple) and "ch-1" in win.last
    older = as_older_release(win, reads(1, start=1)[0])
    # in memory, where the event took a third of a key's bytes
    assert deep_size(win) + 500 < deep_size(older)
    assert len(pickle.dumps(win, protocol=5)) < len(pickle.dumps(older, protocol=5))
