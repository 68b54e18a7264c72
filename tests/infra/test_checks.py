"""The static checks on the synthesized templates: cdk-nag (AwsSolutions) and cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.environment import missing_environment

pytestmark = pytest.mark.xdist_group("infra")


@pytest.mark.parametrize("synth_fixture", ["dev_synth", "prod_synth"])
def test_given_the_app_then_cdk_nag_aws_solutions_reports_no_unacknowledged_finding(synth_fixture, request):
    synth = request.getfixturevalue(synth_fixture)
    findings = [
        f"{v['ruleName']} ({v['severity']}) at {[c['constructPath'] for c in v['violatingConstructs']]}"
        for v in synth.violations
        if v["plugin"] == "AwsSolutions"
    ]
    assert findings == []
    assert synth.error is None, synth.error


def test_given_the_app_then_every_acknowledgment_names_a_rule_and_gives_a_reason(dev_synth):
    assert dev_synth.acknowledged, "no acknowledgment recorded: is cdk-nag wired through infra.nag?"
    for suppression in dev_synth.acknowledged:
        assert suppression.rule.startswith("AwsSolutions-")
        assert len(suppression.reason) >= 40, suppression


def test_given_the_app_then_the_only_synth_warnings_are_functions_not_written_yet(dev_synth):
    unexpected = [
        w
        for w in dev_synth.warnings
        if "ticketguard:missing-" not in w
        and "is not deployed" not in w
        # POST /api/v1/events: its queue and consumer come with the ingest infra (issue 11)
        and "ticketguard:undeployed-route" not in w
    ]
    assert unexpected == []


@pytest.mark.parametrize("synth_fixture", ["dev_synth", "prod_synth"])
def test_given_every_template_then_cfn_lint_reports_no_error(synth_fixture, request):
    synth = request.getfixturevalue(synth_fixture)
    templates = sorted(str(path) for path in Path(synth.outdir).glob("*.template.json"))
    assert len(templates) == 3
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--format", "json", *templates], capture_output=True, text=True, check=False
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f"{f['Rule']['Id']} {f['Filename']}: {f['Message']}" for f in findings if f["Level"] == "Error"]
    assert errors == []


def test_given_the_dev_templates_then_every_checkov_failure_is_justified(dev_synth, tmp_path):
    checkov = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"
    if not checkov.exists():
        missing_environment(
            "checkov's venv (.venv-checkov) is missing",
            "`make test` installs it (make .venv-checkov/.installed)",
        )
    from infra.checkov_report import main

    report = tmp_path / "checkov.md"
    assert main(["--checkov", str(checkov), "--templates", str(dev_synth.outdir), "--out", str(report)]) == 0
    text = report.read_text()
    assert "| failed, unjustified | 0 |" in text


def test_given_the_app_without_acknowledgments_then_each_acknowledgment_silences_a_real_finding(
    unacknowledged_synth,
):
    found = {
        (violation["ruleName"], construct["constructPath"])
        for violation in unacknowledged_synth.violations
        for construct in violation["violatingConstructs"]
    }
    stale = [
        f"{s.rule} on {s.path}"
        for s in unacknowledged_synth.acknowledged
        if not any(
            rule == s.rule and (path == s.path or path.startswith(s.path + "/")) for rule, path in found
        )
    ]
    assert stale == []
    assert unacknowledged_synth.error is not None  # and without them the synth fails
