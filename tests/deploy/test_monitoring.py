"""Grafana dashboards and Prometheus alert rules in deploy/: well formed, and reading only
metrics the services really expose."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import SYNTHETIC, PromQLError, check, sample_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana").glob("*.json"))
RULES = DEPLOY / "prometheus" / "alerts.yml"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
LOADED = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DASHBOARDS}


def exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) of every query of every panel, nested ones included."""
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            metric = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            assert metric, f"variable {variable['name']}: {query}"
            found.append((f"variable {variable['name']}", metric[1]))
    return found


def test_there_is_an_operations_and_a_process_owner_dashboard():
    assert [p.name for p in DASHBOARDS] == ["operations.json", "process-owners.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_grafana_json_with_a_datasource_variable(path: Path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
async def test_dashboard_queries_read_exposed_metrics(path: Path, expositions: dict[str, str]):
    exposed = set().union(*(sample_names(text) for text in expositions.values())) | SYNTHETIC
    for title, expr in exprs(LOADED[path.name]):
        missing = check(expr) - exposed
        assert not missing, (
            f"{path.name}, {title!r} reads {sorted(missing)}, which no service exposes"
        )


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    names = [g["name"] for g in document["groups"]]
    assert len(names) == len(set(names)), "group names are unique"
    return [rule for group in document["groups"] for rule in group["rules"]]


RULE_LIST = rules()


def test_alert_rules_are_well_formed():
    found = rules()
    alerts = [r["alert"] for r in found]
    assert len(alerts) == len(set(alerts))
    for wanted in (
        "BpmServiceDown",
        "BpmOutboxBacklogGrowing",
        "BpmConsumerLagging",
        "BpmDeadLetters",
        "BpmOverdueSurge",
    ):
        assert wanted in alerts
    for rule in found:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["alert"]
        for text in rule["annotations"].values():
            assert text.count("{{") == text.count("}}"), rule["alert"]


async def test_alert_rules_read_exposed_metrics(expositions: dict[str, str]):
    exposed = set().union(*(sample_names(text) for text in expositions.values())) | SYNTHETIC
    for rule in RULE_LIST:
        missing = check(rule["expr"]) - exposed
        assert not missing, f"{rule['alert']} reads {sorted(missing)}, which no service exposes"


def test_the_scrape_configuration_loads_the_rules_and_names_the_jobs():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {f"bpm-{s}" for s in ("gateway", "designer", "runtime", "notifier", "metrics")}


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("sum(rate(x_total[5m])", "unclosed"),
        ("sum(rate(x_total[5m)))", "unbalanced"),
        ("rated(x_total[5m])", "unknown function"),
        ("1 + 1", "reads no metric"),
    ],
)
def test_the_query_checker_finds_mistakes(expr: str, problem: str):
    with pytest.raises(PromQLError, match=problem):
        check(expr)


def test_the_query_checker_finds_the_metrics():
    expr = (
        'histogram_quantile(0.95, sum by (consumer, le) (rate(a_bucket{x="y(", s=~"$s"}'
        "[$__rate_interval]))) / on (consumer) group_left b_total offset 1h > 2e3"
    )
    assert check(expr) == {"a_bucket", "b_total"}
