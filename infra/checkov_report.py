"""Run checkov on the synthesized templates and write `reports/checkov.md`.

    python infra/checkov_report.py --checkov .venv-checkov/bin/checkov --templates cdk.out --out reports/checkov.md

Every failed check must be fixed in the stacks or justified in `JUSTIFICATIONS` (check id -> why it
does not apply to this design); an unjustified failure makes this command exit 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

JUSTIFICATIONS: dict[str, str] = {
    "CKV_AWS_111": "Statement with Resource '*' is Lambda VPC networking (ec2:Create/Delete/Describe NetworkInterface, "
    "Assign/UnassignPrivateIpAddresses) and X-Ray PutTraceSegments, which accept no narrower resource; all data-plane "
    "permissions are scoped to ARNs (tests/infra/test_functions.py checks it).",
    "CKV_AWS_115": "API functions (score, metrics, health) scale with traffic, bounded by the stage and usage-plan throttles. "
    "Reservations are per environment (cdk.json, checked at synth against account_concurrency_limit so that 100 stay "
    "unreserved): prod reserves score, metrics, and one each for the jobs and migrations; dev reserves nothing (a new "
    "account has 10 in all and can reserve none). The CDK framework functions (custom-resource providers) run once per deploy.",
    "CKV_AWS_116": "A DLQ only applies to asynchronous invocations. The API functions are invoked synchronously by API "
    "Gateway, migrations synchronously by the custom-resource framework, the retraining steps (retrain_export, "
    "retrain_publish) synchronously by their state machine (which retries them and alarms on a failed execution), "
    "and the framework functions by CloudFormation. Every asynchronous function (the scheduled jobs) has a DLQ.",
    "CKV_AWS_117": "CDK custom-resource framework functions call only AWS control-plane APIs and CloudFormation's response "
    "URL; they touch no data store, so they stay outside the VPC (and need no NAT).",
    "CKV_AWS_120": "No API Gateway cache: scoring is a POST per transaction and the metrics/health answers are live; a "
    "cache would serve stale decisions and KPIs.",
    "CKV_AWS_157": "Dev only: a single-AZ instance to save cost. Prod is Multi-AZ (cdk.json; tests/infra/test_data.py).",
    "CKV_AWS_158": "The Cognito user-activity log group only: Cognito delivers to a group without a KMS key and refuses "
    "one with (CloudWatchLogsConfiguration.LogGroupArn); CloudWatch Logs encrypts it at rest with its own key. Every other "
    "log group uses the stack's key (tests/infra/test_data.py).",
    "CKV_AWS_173": "The only environment variable of the CDK custom-resource framework function is the ARN of the "
    "migrations handler: no secret to encrypt. Our own functions encrypt their environment with the service key.",
    "CKV_AWS_18": "This is the server-access-log bucket itself; logging it into itself would loop.",
}


def run_checkov(checkov: str, templates: list[Path]) -> list[dict]:
    command = [checkov, "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    for template in templates:
        command += ["--file", str(template)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise SystemExit(f"checkov failed ({result.returncode}):\n{result.stderr[-3000:]}")
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", required=True)
    parser.add_argument("--templates", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, default=Path("reports/checkov.md"))
    args = parser.parse_args(argv)
    templates = sorted(args.templates.glob("*.template.json"))
    if not templates:
        print(f"no templates in {args.templates}: run make synth", file=sys.stderr)
        return 1
    reports = run_checkov(args.checkov, templates)
    passed: Counter[str] = Counter()
    failed: list[dict] = []
    for report in reports:
        results = report.get("results", {})
        for check in results.get("passed_checks", []):
            passed[check["check_id"]] += 1
        failed += results.get("failed_checks", [])
    unjustified = [check for check in failed if check["check_id"] not in JUSTIFICATIONS]
    lines = [
        "# checkov on the synthesized templates",
        "",
        f"Templates: {', '.join(t.name for t in templates)}",
        "",
        "| result | count |",
        "| --- | --- |",
        f"| passed | {sum(passed.values())} |",
        f"| failed, justified | {len(failed) - len(unjustified)} |",
        f"| failed, unjustified | {len(unjustified)} |",
        "",
        "## Failed checks",
        "",
        "| check | resource | file | justification |",
        "| --- | --- | --- | --- |",
    ]
    for check in sorted(failed, key=lambda c: (c["check_id"], c["resource"])):
        reason = JUSTIFICATIONS.get(check["check_id"], "**UNJUSTIFIED: fix it or justify it**")
        lines.append(
            f"| {check['check_id']} {check.get('check_name', '')} | {check['resource']} | "
            f"{Path(check['file_path']).name} | {reason} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(
        f"checkov: {sum(passed.values())} passed, {len(failed)} failed ({len(unjustified)} unjustified) -> {args.out}"
    )
    return 1 if unjustified else 0


if __name__ == "__main__":
    sys.exit(main())
