"""Enough of PromQL to check a query without Prometheus: balanced brackets, known
functions, and the metric names it reads."""

from __future__ import annotations

import re

FUNCTIONS = frozenset(
    {
        "abs",
        "absent",
        "absent_over_time",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "delta",
        "deriv",
        "exp",
        "floor",
        "histogram_quantile",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log2",
        "log10",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "predict_linear",
        "quantile_over_time",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sort",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "sum_over_time",
        "time",
        "timestamp",
        "vector",
        "year",
    }  # fmt: skip
)
AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }  # fmt: skip
)
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"}) | GROUPING
# series Prometheus makes itself for every target
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_RANGE = re.compile(r"\$__(rate_interval|interval|range)\b")
_GRAFANA_VAR = re.compile(r"\$\{?\w+\}?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_PAIRS = {")": "(", "]": "[", "}": "{"}


class PromQLError(ValueError):
    """A query that Prometheus would refuse, or that reads no metric."""


def check(expr: str) -> set[str]:
    """The metric names `expr` reads; PromQLError when it is not well formed."""
    text = _GRAFANA_RANGE.sub("5m", expr)
    text = _STRING.sub('""', text)
    text = _GRAFANA_VAR.sub("x", text)
    _balanced(text)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    names: set[str] = set()
    tokens = list(_IDENT.finditer(text))
    skip_list_from = -1
    for token in tokens:
        name, start = token.group(), token.start()
        if start < skip_list_from:
            continue
        if text[start - 1 : start].isdigit() or (start and text[start - 1] == "."):
            continue  # part of a number or a duration such as 1h
        following = text[token.end() :].lstrip()[:1]
        if name in GROUPING:
            if following == "(":
                skip_list_from = text.index(")", token.end())
            continue
        if name in KEYWORDS:
            continue
        if name in AGGREGATIONS and following in ("(", "b", "w"):  # sum(...), sum by (...) (...)
            continue
        if following == "(":
            if name not in FUNCTIONS | AGGREGATIONS:
                raise PromQLError(f"unknown function {name!r} in {expr!r}")
            continue
        names.add(name)
    if not names:
        raise PromQLError(f"{expr!r} reads no metric")
    return names


def _balanced(text: str) -> None:
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack.pop() != _PAIRS[char]:
                raise PromQLError(f"unbalanced {char!r} in {text!r}")
    if stack:
        raise PromQLError(f"unclosed {stack[-1]!r} in {text!r}")


def sample_names(exposition: str) -> set[str]:
    """The series names a Prometheus text exposition offers, from its `# TYPE` lines (a
    labelled metric with no series yet still has them)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, family, kind = line.split(maxsplit=3)
        base = family.removesuffix("_total") if kind == "counter" else family
        names |= {
            "counter": {f"{base}_total", f"{base}_created"},
            "histogram": {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"},
            "summary": {base, f"{base}_count", f"{base}_sum", f"{base}_created"},
            "info": {f"{base}_info"},
        }.get(kind, {base})
    return names
