"""The scoring function's memory sizing and the capacity plan at 100x the spec's traffic, into
docs/performance.md's generated block (infra/capacity.py has the arithmetic).

    python infra/capacity_report.py                                 # print it (synthesizes prod)
    python infra/capacity_report.py --write docs/performance.md     # rewrite the page's generated block
    python infra/capacity_report.py --score-cpu-ms 1.1 --score-p50-ms 1.6 --source "make bench-api, load 0.9"
    make capacity                                                   # the second one

The measured inputs default to the figures `Measured` names with their source; a newer `make bench-api`
run passes its own (CPU per request, p50, import time) with `--source`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.capacity import (  # noqa: E402
    LAMBDA_MB_PER_VCPU,
    LIMITS,
    PEAK_FACTOR,
    SCALE,
    SECONDS_PER_DAY,
    Load,
    Measured,
    scaled_traffic,
    sizing,
)
from infra.config import EnvironmentConfig, load_environment  # noqa: E402
from infra.cost_model import Templates, monthly_costs  # noqa: E402
from infra.cost_prices import Traffic  # noqa: E402
from infra.cost_report import _money, _table, load_templates  # noqa: E402

BEGIN, END = "<!-- capacity:begin (make capacity) -->", "<!-- capacity:end -->"


def _environments() -> dict[str, EnvironmentConfig]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
    return {name: load_environment(context, name) for name in ("dev", "prod")}


def _backend_rate_limit() -> float:
    import yaml

    plans = yaml.safe_load((ROOT / "shared/api/usage_plans.yaml").read_text())["usage_plans"]
    return float(next(p for p in plans if p["name"] == "marketplace-backend")["throttle"]["rate_limit"])


def sizing_section(measured: Measured, envs: dict[str, EnvironmentConfig]) -> list[str]:
    rows = [
        f"Measured ({measured.score_source}): {measured.score_cpu_ms:.2f} ms of CPU per scoring request in "
        f"the handler's process, p50 {measured.score_p50_ms:.2f} ms (so {measured.score_wait_ms:.2f} ms "
        f"waiting on the loopback's PostgreSQL and Redis; PostgreSQL's own CPU {measured.score_pg_cpu_ms:.2f} ms a "
        f"request), import {measured.import_s:.2f} s. In Lambda: the "
        f"CPU part divided by the CPU share (memory / {LAMBDA_MB_PER_VCPU:,} MB, at most one vCPU: the "
        f"handler is single-threaded), plus the waits, plus {measured.redis_round_trips + measured.pg_round_trips}"
        f" round trips x {measured.aws_round_trip_ms} ms in the VPC (estimate). arm64 prices "
        "(infra/cost_prices.py), billed per ms rounded up, $0.20 per million requests included.",
        "",
        "| memory | vCPU share | duration | billed | $ per million requests | cold start's import |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in sizing(measured):
        rows.append(
            f"| {row.memory_mb:,} MB | {row.vcpu_share:.2f} | {row.duration_ms:.1f} ms | {row.billed_ms} ms | "
            f"${row.cost_per_million:.3f} | {row.cold_init_s:.1f} s |"
        )
    chosen = ", ".join(f"{name} {env.sizing('score').memory_mb:,} MB" for name, env in envs.items())
    rows += [
        "",
        f"Chosen in the stacks (cdk.json, infra/config.py): {chosen}. The CPU-bound part costs the same "
        "GB-seconds at every size (half the memory, twice the time), so the cost per million barely moves "
        "(the waits are billed at every size, and weigh more where memory is bigger); what moves is the "
        "duration and, more, the cold start: the import runs on the same CPU share, so at 256 MB every new "
        "instance spends seconds before its first answer. Prod takes one full vCPU (1,769 MB: the "
        "shortest duration and cold start, for cents a million); dev 1,024 MB.",
    ]
    return rows


def _rates(traffic: Traffic) -> str:
    score = traffic.api_requests_per_day / SECONDS_PER_DAY
    events = traffic.events_per_day / SECONDS_PER_DAY
    return (
        f"{traffic.api_requests_per_day / 1e6:,.0f} M scoring requests a day ({score:,.0f}/s mean, "
        f"{score * PEAK_FACTOR:,.0f}/s at peak), {traffic.events_per_day / 1e6:,.0f} M events "
        f"({events:,.0f}/s mean, {events * PEAK_FACTOR:,.0f}/s at peak), "
        f"{traffic.pricing_requests_per_day / 1e6:,.0f} M pricing quotes"
    )


def capacity_section(load_rows: list[Load]) -> list[str]:
    rows = [
        f"At {SCALE:g}x the spec: {_rates(scaled_traffic())}. Each component's peak (the day's mean x "
        f"{PEAK_FACTOR:g}) at the spec's traffic, its limit, and the multiple of the spec at which the "
        "peak reaches it, first to saturate first:",
        "",
        f"| component | peak at the spec | peak at {SCALE:g}x | limit | saturates at | limit's source |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for load in load_rows:
        rows.append(
            f"| {load.component} | {load.peak_at_spec:,.1f} | {load.peak_at(SCALE):,.0f} | "
            f"{load.limit:,.0f} {load.unit} | **{load.saturates_at():,.1f}x** | {load.source} |"
        )
    first = load_rows[0]
    first_aws = next(load for load in load_rows if load.key in LIMITS)
    rows += [
        "",
        f"First: {first.component} at {first.saturates_at():,.1f}x the spec's traffic; the first AWS "
        f"limit: {first_aws.component} at {first_aws.saturates_at():,.1f}x "
        f"({first_aws.limit:,.0f} {first_aws.unit}).",
    ]
    return rows


def cost_section(templates: Templates) -> list[str]:
    spec, scaled = monthly_costs(templates, Traffic()), monthly_costs(templates, scaled_traffic())
    totals = [sum(line.monthly for line in lines) for lines in (spec, scaled)]
    return [
        f"Today's prod stacks priced at the spec's traffic and at {SCALE:g}x (infra/cost_model.py, the "
        "same unit prices as docs/deploy.md; the instances as they are, before the changes above):",
        "",
        *_table({"prod": spec, f"prod {SCALE:g}x": scaled}),
        f"| **total** | **{_money(totals[0])}** | **{_money(totals[1])}** | |",
    ]


def render(measured: Measured, templates: Templates) -> str:
    envs = _environments()
    load_rows = loads_for(measured, envs["prod"])
    return "\n".join(
        [
            "### Memory sizing of the scoring function",
            "",
            *sizing_section(measured, envs),
            "",
            f"### Capacity at {SCALE:g}x",
            "",
            *capacity_section(load_rows),
            "",
            f"### Cost at {SCALE:g}x",
            "",
            *cost_section(templates),
        ]
    )


def loads_for(measured: Measured, prod: EnvironmentConfig) -> list[Load]:
    from infra.capacity import loads

    return loads(measured, prod, _backend_rate_limit())


def _templates(directory: Path | None) -> Templates:
    if directory:
        return load_templates(directory, "prod")
    import tempfile

    from infra.snapshot_templates import synthesize

    with tempfile.TemporaryDirectory(prefix="tg-capacity-") as tmp:
        return synthesize("prod", Path(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=Path, help="a templates-snapshot directory (<env>/<stack>.json)")
    parser.add_argument("--write", type=Path, help="rewrite this file's generated capacity block")
    parser.add_argument("--score-cpu-ms", type=float)
    parser.add_argument("--score-p50-ms", type=float)
    parser.add_argument("--import-s", type=float)
    parser.add_argument("--source", help="where the measured figures come from (run, load average)")
    args = parser.parse_args(argv)
    measured = Measured()
    for name in ("score_cpu_ms", "score_p50_ms", "import_s"):
        if getattr(args, name) is not None:
            measured = replace(measured, **{name: getattr(args, name)})
    if args.source:
        measured = replace(measured, score_source=args.source)
    block = render(measured, _templates(args.templates))
    print(block)
    if args.write:
        text = args.write.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{args.write}: no {BEGIN} ... {END} block to replace")
        before, rest = text.split(BEGIN, 1)
        args.write.write_text(f"{before}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}")
        print(f"\nwrote the capacity block of {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
