"""Reading Prometheus exposition text back: a worker's or the API's ``/metrics`` page.

Every reader (the demo, the bench, the tests) goes through ``prometheus_client``'s own
parser here, so label quoting, escapes and histogram series are read the way Prometheus
writes them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(text: str, name: str) -> Iterator[Sample]:
    """Every sample called ``name`` (the full series name: ``_total``, ``_bucket``, ...).

    >>> text = '''# TYPE riskloop_x counter
    ... riskloop_x_total{topic="a"} 2.0
    ... riskloop_x_total{topic="b"} 3.0
    ... '''
    >>> [(s.labels, s.value) for s in samples(text, "riskloop_x_total")]
    [({'topic': 'a'}, 2.0), ({'topic': 'b'}, 3.0)]
    """
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                yield sample


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels`` (0 when none).

    >>> text = '''riskloop_x_total{topic="a",reason="bad"} 2.0
    ... riskloop_x_total{topic="b",reason="bad"} 3.0
    ... riskloop_x_total{topic="b",reason="late"} 4.0
    ... '''
    >>> metric_sum(text, "riskloop_x_total"), metric_sum(text, "riskloop_x_total", topic="b")
    (9.0, 7.0)
    >>> metric_sum(text, "riskloop_y_total")
    0.0
    """
    return sum(
        (
            s.value
            for s in samples(text, name)
            if all(s.labels.get(k) == v for k, v in labels.items())
        ),
        0.0,
    )
