"""PromQL helpers that keep the house conventions in one place.

Counters are always read through ``rate``/``increase`` over ``$__rate_interval`` (or over the
dashboard's ``$__range`` for "in range" totals), latencies through ``histogram_quantile``.
Series that appear only after a rare event (a reload, a return, an escalation) are given a
fallback with :func:`or_zero`, so a panel shows 0 rather than "No data" while nothing happened.

>>> rate_by("riskloop_events_in_total", "topic", 'topic=~"$topic"')
'sum by (topic) (rate(riskloop_events_in_total{topic=~"$topic"}[$__rate_interval]))'
>>> quantile(0.95, "api_seconds_bucket", "route")
'histogram_quantile(0.95, sum by (le, route) (rate(api_seconds_bucket[$__rate_interval])))'
>>> quantile(0.5, "claim_seconds_bucket", in_range=True)
'histogram_quantile(0.5, sum by (le) (increase(claim_seconds_bucket[$__range])))'
"""

from __future__ import annotations

RATE = "$__rate_interval"
RANGE = "$__range"


def _sel(selector: str) -> str:
    return "{" + selector + "}" if selector else ""


def _sum(by: str) -> str:
    return f"sum by ({by}) " if by else "sum"


def rate_by(metric: str, by: str = "", selector: str = "", *, fn: str = "rate") -> str:
    """``sum [by (labels)] (rate(metric{selector}[$__rate_interval]))``."""
    return f"{_sum(by)}({fn}({metric}{_sel(selector)}[{RATE}]))"


def increase_in_range(metric: str, by: str = "", selector: str = "") -> str:
    """Total increase of a counter over the dashboard's time range (``$__range``)."""
    return f"{_sum(by)}(increase({metric}{_sel(selector)}[{RANGE}]))"


def quantile(
    q: float, bucket_metric: str, by: str = "", selector: str = "", *, in_range: bool = False
) -> str:
    """``histogram_quantile`` of a Prometheus histogram, optionally kept apart by labels.

    Over ``$__rate_interval`` (a curve), or with ``in_range`` over the whole time range: for
    slow, human-scale durations (time to claim a clue) where a short window is mostly empty.
    """
    labels = f"le, {by}" if by else "le"
    if in_range:
        window = f"increase({bucket_metric}{_sel(selector)}[{RANGE}])"
    else:
        window = f"rate({bucket_metric}{_sel(selector)}[{RATE}])"
    return f"histogram_quantile({q}, sum by ({labels}) ({window}))"


def per_minute(metric: str, by: str = "", selector: str = "") -> str:
    """A counter's rate in events per minute (for slow, human-scale counts)."""
    return f"60 * {rate_by(metric, by, selector)}"


def or_zero(expr: str, base: str = "") -> str:
    """``expr``, or 0 where it has no series yet.

    Without ``base`` the fallback is one unlabelled 0 (for single-number panels); with a
    ``base`` query of the same labels it is 0 for each series of ``base`` that ``expr``
    lacks (e.g. every rule the engine knows).

    >>> or_zero("sum(x)")
    'sum(x) or vector(0)'
    >>> or_zero("max by (rule) (a)", "max by (rule) (b)")
    'max by (rule) (a) or 0 * max by (rule) (b)'
    """
    return f"{expr} or " + (f"0 * {base}" if base else "vector(0)")


def or_undefined(expr: str, base: str) -> str:
    """``expr``, or NaN (undefined: drawn as a gap) for each series of ``base`` it lacks.

    For ratios that do not exist before their first event, where 0 would be a lie.

    >>> or_undefined("max by (rule) (p)", "max by (rule) (q)")
    'max by (rule) (p) or max by (rule) (q) * NaN'
    """
    return f"{expr} or {base} * NaN"


def none_label(expr: str, label: str, text: str = "none") -> str:
    """Give series whose ``label`` is empty the value ``text`` instead (for legends).

    >>> none_label("sum by (colour) (b)", "colour")
    'label_replace(sum by (colour) (b), "colour", "none", "colour", "")'
    """
    return f'label_replace({expr}, "{label}", "{text}", "{label}", "")'
