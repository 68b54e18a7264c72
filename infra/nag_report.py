"""Write `reports/cdk-nag.md`: every cdk-nag acknowledgment of the app (rule, construct, reason).

    python infra/nag_report.py [--env dev] [--out reports/cdk-nag.md]

The acknowledgments are collected while the stacks are built (`infra.nag.acknowledge`); the test
suite proves that each one silences a real finding and that nothing else is reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aws_cdk import App  # noqa: E402

from infra import nag  # noqa: E402
from infra.config import load_environment  # noqa: E402
from infra.stacks import BuildPaths, build  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "cdk-nag.md")
    args = parser.parse_args(argv)
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    config = load_environment(context["environments"], args.env)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for layer in ("deps", "model"):
            (work / layer / layer).mkdir(parents=True)  # building the tree needs no real layer content
        app = App(outdir=str(work / "out"), context={**context, "env": args.env})
        build(app, config, BuildPaths(work / "deps", work / "model", work / "staging"), account=None)
    by_rule: dict[str, list[nag.Suppression]] = defaultdict(list)
    for suppression in nag.ACKNOWLEDGED:
        by_rule[suppression.rule].append(suppression)
    lines = [
        f"# cdk-nag (AwsSolutions) acknowledgments, environment `{args.env}`",
        "",
        f"{len(nag.ACKNOWLEDGED)} acknowledgments ({len(by_rule)} distinct finding ids); nothing else is reported.",
        "",
        "| rule | constructs | reason |",
        "| --- | --- | --- |",
    ]
    for rule, suppressions in sorted(by_rule.items()):
        for reason in sorted({s.reason for s in suppressions}):
            paths = sorted(s.path for s in suppressions if s.reason == reason)
            lines.append(f"| `{rule}` | {'<br>'.join(f'`{p}`' for p in paths)} | {reason} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"cdk-nag: {len(nag.ACKNOWLEDGED)} acknowledgments -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
