"""Monthly AWS cost of the dev and prod stacks at the spec's traffic, priced from the synthesized templates.

    python infra/cost_report.py                               # synthesize dev and prod, print the table
    python infra/cost_report.py --templates build/templates   # price `make templates-snapshot`'s output
    python infra/cost_report.py --write-readme docs/deploy.md  # rewrite the deploy page's generated block
    make cost                                                 # the last one

Every quantity is read from the templates (instance classes, Multi-AZ, storage, node counts, endpoints
and their AZs, NAT gateways, functions' memory and architecture, schedules, WAF rules, alarms,
dashboards, secrets, keys, log groups); usage comes from `Traffic` and unit prices from `PRICES`
(infra/cost_prices.py: eu-west-1 list prices written down by hand, not fetched). Every resource type
of the templates is either priced (infra/cost_model.py) or listed as free with the reason (a test holds
it so). The deploy page's cost table (docs/deploy.md) is this script's output (`make cost` rewrites its marked block).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.cost_model import Line, Templates, monthly_costs, unpriced_types
from infra.cost_prices import CUTS, REGION, Traffic

SPEC_MONTHLY = 1850  # sprint3-solution.md 7.4
SPEC_AWS_MONTHLY = 420 + 180 + 650 + 150  # of it, AWS: RDS, ElastiCache, ECS, monitoring
BEGIN, END = "<!-- cost-report:begin (make cost) -->", "<!-- cost-report:end -->"

# ---------------------------------------------------------------- output


def _money(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


# The lines that follow the traffic; the others are what an idle environment costs.
PER_REQUEST = frozenset({"apigw", "waf_requests", "logs", "lambda", "xray"})


def _table(reports: dict[str, list[Line]]) -> list[str]:
    """A row per line item (biggest first): its monthly cost per environment and what was counted."""
    envs = list(reports)
    by_item: dict[str, dict[str, Line]] = {}
    for env, lines in reports.items():
        for line in lines:
            by_item.setdefault(line.service, {})[env] = line
    order = sorted(by_item, key=lambda item: -max(line.monthly for line in by_item[item].values()))
    rows = [
        "| line item | "
        + " | ".join(f"{env} $/month" for env in envs)
        + " | counted ("
        + " / ".join(envs)
        + ") |",
        "| --- |" + " ---: |" * len(envs) + " --- |",
    ]
    for item in order:
        found = by_item[item]
        money = [_money(found[env].monthly) if env in found else "-" for env in envs]
        quantities = list(dict.fromkeys(found[env].quantity for env in envs if env in found))
        rows.append(f"| {item} | " + " | ".join(money) + " | " + " / ".join(quantities) + " |")
    return rows


def render_markdown(reports: dict[str, list[Line]], traffic: Traffic | None = None) -> str:
    traffic = traffic or Traffic()
    envs = list(reports)
    last = envs[-1]
    rows = _table(reports)
    totals = {env: sum(line.monthly for line in lines) for env, lines in reports.items()}
    idle = {
        env: sum(line.monthly for line in lines if line.key not in PER_REQUEST)
        for env, lines in reports.items()
    }
    rows.append("| **total** | " + " | ".join(f"**{_money(totals[env])}**" for env in envs) + " | |")
    biggest = sorted(reports[last], key=lambda line: -line.monthly)[:5]
    first = envs[0]
    idle_first = [line for line in reports[first] if line.key not in PER_REQUEST][:3]
    cuts = [
        f"- **{line.service}** ({_money(line.monthly)}): {CUTS.get(line.key, 'usage-driven')}"
        for line in biggest
    ]
    return "\n".join(
        [
            f"At the spec's traffic ({traffic.api_requests_per_day / 1e6:.1f} M API requests and "
            f"{traffic.events_per_day / 1e3:.0f} k events a day, in both environments), {REGION} on-demand list "
            "prices without free tier (written down in `infra/cost_prices.py`, not fetched), each environment "
            "priced from its synthesized templates by `infra/cost_report.py`:",
            "",
            *rows,
            "",
            f"The spec's figure is ${SPEC_MONTHLY:,}/month, of which ${SPEC_AWS_MONTHLY:,} is AWS (RDS $420, "
            "ElastiCache $180, ECS $650, monitoring $150; Infura/Alchemy $250 and CloudFlare $200 are not in "
            f"these stacks): prod here is {_money(totals[last])}, with Lambda in place of ECS. Without traffic "
            + ", ".join(f"{env} costs {_money(idle[env])}" for env in envs)
            + " a month (the lines that do not follow requests). Not counted: data transfer out, the chain RPC "
            "provider, support plans.",
            "",
            f"Biggest line items in {last}, and how to cut them:",
            *cuts,
            "",
            f"In {first}, the biggest of what it costs without traffic:",
            *(
                f"- **{line.service}** ({_money(line.monthly)}): {CUTS.get(line.key, 'fixed')}"
                for line in idle_first
            ),
        ]
    )


def replace_block(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"no {BEGIN} ... {END} block to replace")
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n{block}\n{END}{after}"


def load_templates(directory: Path, env: str) -> Templates:
    files = sorted((directory / env).glob("*.json"))
    if not files:
        raise SystemExit(f"no templates in {directory / env}: run `make templates-snapshot`")
    return {path.stem: json.loads(path.read_text()) for path in files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=Path, help="a templates-snapshot directory (<env>/<stack>.json)")
    parser.add_argument("--write-readme", type=Path, help="rewrite this file's generated cost block")
    args = parser.parse_args(argv)
    reports = {}
    for env in ("dev", "prod"):
        if args.templates:
            templates = load_templates(args.templates, env)
        else:
            import tempfile

            from infra.snapshot_templates import synthesize

            with tempfile.TemporaryDirectory(prefix=f"tg-cost-{env}-") as tmp:
                templates = synthesize(env, Path(tmp))
        lines = monthly_costs(templates)
        missing = unpriced_types(templates, lines)
        if missing:
            print(f"{env}: resource types neither priced nor listed free: {sorted(missing)}", file=sys.stderr)
            return 1
        reports[env] = lines
    block = render_markdown(reports)
    print(block)
    if args.write_readme:
        args.write_readme.write_text(replace_block(args.write_readme.read_text(), block))
        print(f"\nwrote the cost block of {args.write_readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
