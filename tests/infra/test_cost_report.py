"""What it costs (issue 10 item 5): the cost script prices the synthesized templates, every resource
type of them is priced or explained free, and docs/deploy.md's table is the script's output."""

from __future__ import annotations

import json

import pytest

from infra.cost_model import FREE_TYPES, fires_per_month, monthly_costs, resource_types, unpriced_types
from infra.cost_prices import HOURS_PER_MONTH, PRICES, RDS_INSTANCE_HOUR
from infra.cost_report import BEGIN, END, main, render_markdown, replace_block
from tests.fixtures.infra import ROOT

pytestmark = pytest.mark.xdist_group("infra")


@pytest.mark.parametrize("synth_name", ["dev_synth", "prod_synth"])
def test_given_the_templates_then_every_billable_resource_type_has_a_line(synth_name, request):
    # Given an environment's synthesized templates, When they are priced
    templates = request.getfixturevalue(synth_name).templates
    lines = monthly_costs(templates)
    # Then every resource type is priced by a line or explained free (a new type fails here until it is)
    assert unpriced_types(templates, lines) == set()
    priced = {t for line in lines for t in line.types}
    billable = {t for t in resource_types(templates) if t not in FREE_TYPES and not t.startswith("Custom::")}
    assert billable <= priced
    assert {
        "AWS::EC2::NatGateway",
        "AWS::EC2::VPCEndpoint",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBProxy",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Lambda::Function",
        "AWS::ApiGateway::RestApi",
        "AWS::WAFv2::WebACL",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::CompositeAlarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::SecretsManager::Secret",
        "AWS::KMS::Key",
    } <= billable
    # ...and the rendered table has a row for each line
    table = render_markdown({"dev": lines, "prod": lines})
    assert all(f"| {line.service} |" in table for line in lines)


def test_given_the_on_call_alarms_then_the_metrics_line_prices_each_alarm_and_composite(dev_synth):
    # Given the dev templates with the on-call alarms (issue 27)
    line = {line.key: line for line in monthly_costs(dev_synth.templates)}["metrics"]
    alarms = [
        a["Properties"]
        for t in dev_synth.templates.values()
        for a in t["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
    ]
    composites = [
        a
        for t in dev_synth.templates.values()
        for a in t["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::CompositeAlarm"
    ]
    assert len(composites) >= 7  # api-outage, scoring-degraded, data stores, 4 SLO burn windows
    # Then a metric-math alarm counts per metric it reads, a composite at its own price
    counted = sum(max(1, len(a.get("Metrics", [])) - 1) for a in alarms)
    assert f"{counted} alarms, {len(composites)} composite alarms" in line.quantity
    assert line.monthly >= counted * PRICES["alarm_month"] + len(composites) * PRICES["composite_alarm_month"]


def test_given_prod_then_its_lines_follow_its_templates(prod_synth, dev_synth):
    prod = {line.service: line for line in monthly_costs(prod_synth.templates)}
    dev = {line.service: line for line in monthly_costs(dev_synth.templates)}
    # Multi-AZ doubles the instance and its storage (db.m7g.large, 100 GB in cdk.json)
    expected = 2 * (HOURS_PER_MONTH * RDS_INSTANCE_HOUR["db.m7g.large"] + 100 * PRICES["rds_gp3_gb_month"])
    assert prod["RDS PostgreSQL"].monthly == pytest.approx(expected)
    assert "Multi-AZ" in prod["RDS PostgreSQL"].quantity and "Single-AZ" in dev["RDS PostgreSQL"].quantity
    # interface endpoints bill per AZ: prod has three AZs, dev two
    assert prod["VPC endpoints"].monthly == pytest.approx(dev["VPC endpoints"].monthly * 3 / 2)
    # the scoring function's memory comes from the template (prod 1769 MB, dev 1024 MB)
    assert prod["Lambda"].monthly > dev["Lambda"].monthly
    assert sum(line.monthly for line in prod.values()) > sum(line.monthly for line in dev.values())


@pytest.mark.parametrize(
    ("expression", "per_month"),
    [
        ("rate(5 minutes)", 8760.0),
        ("cron(0 2 * * ? *)", 365 / 12),
        ("cron(0 0-1,3-23 * * ? *)", 23 * 365 / 12),
        ("cron(0 3 ? * SUN *)", 52 / 12),  # 2025 has 52 Sundays
    ],
)
def test_given_a_schedule_expression_then_its_runs_a_month_are_counted(expression, per_month):
    assert fires_per_month(expression) == pytest.approx(per_month)


def test_given_a_templates_snapshot_when_the_script_runs_then_it_prints_the_table(
    dev_synth, prod_synth, tmp_path, capsys
):
    for env, synth in (("dev", dev_synth), ("prod", prod_synth)):
        (tmp_path / env).mkdir()
        for stack, template in synth.templates.items():
            (tmp_path / env / f"{stack}.json").write_text(json.dumps(template))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    assert main(["--templates", str(tmp_path), "--write-readme", str(readme)]) == 0
    printed = capsys.readouterr().out
    assert "| **total** |" in printed and "$1,850" in printed
    written = readme.read_text()
    assert "old" not in written and written.endswith(f"{END}\n\nafter\n") and printed.strip() in written


def test_given_the_deploy_page_then_its_cost_table_is_the_scripts_output(dev_synth, prod_synth):
    # The table is generated, not typed: `make cost` rewrites the block when the templates change
    block = render_markdown(
        {"dev": monthly_costs(dev_synth.templates), "prod": monthly_costs(prod_synth.templates)}
    )
    page = (ROOT / "docs" / "deploy.md").read_text()
    assert replace_block(page, block) == page, "docs/deploy.md's cost table is stale: run `make cost`"
