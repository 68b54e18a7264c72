"""`make bench-coldstart`: what a Lambda cold start of the scoring function pays before its first
request, its import time, measured before and after in the same run.

Each figure is the median over several fresh interpreters of `python -X importtime -c "import
functions.score.handler"` (tracing off, as locally and under POWERTOOLS_TRACE_DISABLED): the handler
module's cumulative import time, then the packages that cost the most (the sum of their modules' own
import time) and the heaviest modules of the tree. The baseline is the same measurement over another
commit's tree (`--baseline REF`, default the commit before issue 29's cold-start work), exported with
`git archive` into a temporary directory and imported by the same interpreter and packages.

`--tracing` also imports those trees with tracing on (the X-Ray SDK is then imported, as Powertools'
Tracer needs it).

Every interpreter writes no bytecode (PYTHONDONTWRITEBYTECODE), as Lambda's read-only package cannot;
it reads what it finds. The trees above and this project's venv hold none on a machine that writes
none (this one sets PYTHONDONTWRITEBYTECODE): their figures then compile every module but the
standard library's, as every cold start did before the packages shipped bytecode. The last two figures are the score function as
deployed: the package the synth stages and the dependencies layer `make layers` builds for this
machine's architecture, imported by Python 3.12 (the runtime's version; `layers/bytecode.py` finds it),
first from copies of the two without their bytecode ("sources only"), then with it (the target is
this one's), then with it and tracing on, as the stacks deploy the function (boto3, botocore and
s3transfer, which Lambda's runtime provides, stood in by this project's copies with the same bytecode).
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.assets import stage_function_code  # noqa: E402
from layers.build import MACHINE, PROVIDED_BY_RUNTIME  # noqa: E402
from layers.bytecode import compile_tree, find_interpreter  # noqa: E402

# platform.machine() -> the layer's architecture name
LAMBDA_ARCH = {machine: arch for arch, machine in MACHINE.items()}
MODULE = "functions.score.handler"
TARGET_MS = 300.0
# main before issue 29's cold-start work (1.2-1.35 s on this machine at load 0.7, per the issue).
BASELINE_REF = "01c1e3d"


@dataclass
class Importtime:
    """One interpreter's `-X importtime` report: the module's cumulative time and every module's own."""

    total_us: int = 0
    after_site_us: int = 0  # what the command imported: the top-level imports after site's
    cpu_ms: float = 0.0
    own_us: dict[str, int] = field(default_factory=dict)
    cumulative_us: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, report: str, module: str) -> Importtime:
        parsed = cls()
        site_done = False
        for line in report.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, indented = line.split(":", 1)[1].split("|")
            name = indented.strip()
            if indented.startswith(" ") and not indented.startswith("  "):  # depth 0: one space
                if site_done:
                    parsed.after_site_us += int(cumulative)
                site_done = site_done or name == "site"
            parsed.own_us[name] = int(own)
            parsed.cumulative_us[name] = int(cumulative)
            if name == module:
                parsed.total_us = int(cumulative)
        return parsed

    def by_package(self) -> dict[str, int]:
        packages: collections.Counter[str] = collections.Counter()
        for name, own in self.own_us.items():
            packages[name.split(".")[0]] += own
        return dict(packages)


# The third-party libraries the handler cannot do without, imported alone (shared first, for its
# deferral of redis.asyncio): the floor under this tree's figure, what is left that is not ours.
LIBRARIES = (
    "import shared, pydantic, psycopg, psycopg_pool, redis; "
    "from aws_lambda_powertools import Logger, Metrics; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
)


def probe(statement: str) -> str:
    """The child imports, then prints the CPU time it took (less moved by the machine's load than the
    wall time); `-X importtime` reports the rest on stderr."""
    return f"import time; c = time.process_time(); {statement}; print((time.process_time() - c) * 1000)"


@dataclass(frozen=True)
class Case:
    """One figure: which interpreter imports what, from where, and whether it may use bytecode."""

    paths: tuple[Path, ...]  # PYTHONPATH, the first also the working directory
    tracing: bool = False
    statement: str = f"import {MODULE}"
    interpreter: Path = Path(sys.executable)


def measure_once(case: Case) -> Importtime:
    """One fresh interpreter importing the handler (or the case's statement); it writes no bytecode,
    as a Lambda function's read-only package cannot."""
    tree = case.paths[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, case.paths)), "PYTHONDONTWRITEBYTECODE": "1"}
    env["POWERTOOLS_SERVICE_NAME"] = "ticketguard"
    env["POWERTOOLS_TRACE_DISABLED"] = "false" if case.tracing else "true"
    env.pop("LAMBDA_TASK_ROOT", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if case.tracing:  # Powertools traces only inside Lambda (or what looks like it)
        env["LAMBDA_TASK_ROOT"] = str(tree)
    done = subprocess.run(
        [str(case.interpreter), "-X", "importtime", "-c", probe(case.statement)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = Importtime.parse(done.stderr, MODULE)
    if case.statement != f"import {MODULE}":  # the libraries alone: every top-level import counts
        report.total_us = report.after_site_us
    report.cpu_ms = float(done.stdout.split()[-1])
    return report


def measure(cases: dict[str, Case], runs: int) -> dict[str, list[Importtime]]:
    """`runs` interpreters per case, the cases interleaved: a change of the machine's load during
    the run touches every case alike."""
    reports: dict[str, list[Importtime]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            reports[name].append(measure_once(case))
    return reports


def deployed_cases(scratch: Path) -> dict[str, Case]:
    """The score function as Lambda imports it: its package as the synth stages it (with the runtime's
    bytecode) and the dependencies layer for this machine's architecture, by Python 3.12; once with the
    bytecode, once without (what every cold start paid before it was shipped); and with the bytecode and
    tracing on, as the stacks deploy it (the X-Ray SDK is imported, and botocore with it)."""
    arch = LAMBDA_ARCH.get(platform.machine())
    layer = ROOT / "build" / "layers" / str(arch) / "deps" / "python"
    interpreter = find_interpreter()
    if arch is None or not layer.is_dir() or interpreter is None:
        print(
            f"as deployed: skipped (architecture {platform.machine()}, layer {layer} "
            f"{'built' if layer.is_dir() else 'missing: make layers'}, Python 3.12 {interpreter or 'missing'})"
        )
        return {}
    package = stage_function_code("score", scratch / "staging")
    # The same two trees without their bytecode (the interpreter's standard library keeps its own, as
    # Lambda's runtime does)
    sources = [
        without_bytecode(tree, scratch / "sources" / name)
        for tree, name in ((package, "package"), (layer, "layer"))
    ]
    label = "as deployed (Python 3.12, package + layer)"
    cases = {
        f"{label}, sources only": Case(paths=tuple(sources), interpreter=interpreter),
        f"{label}, with the runtime's bytecode": Case(paths=(package, layer), interpreter=interpreter),
    }
    runtime = runtime_provided(scratch / "runtime", interpreter)
    cases[f"{label}, with the runtime's bytecode, tracing on"] = Case(
        paths=(package, layer, runtime), interpreter=interpreter, tracing=True
    )
    return cases


def without_bytecode(tree: Path, into: Path) -> Path:
    shutil.copytree(tree, into, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    return into


def runtime_provided(into: Path, interpreter: Path) -> Path:
    """A stand-in for what Lambda's runtime provides and the layer leaves out (boto3, botocore,
    s3transfer: layers/build.py PROVIDED_BY_RUNTIME): this project's own copies, pure Python, with
    3.12 bytecode. Their versions are the dev lock's, not necessarily the runtime's."""
    import importlib.util

    for name in PROVIDED_BY_RUNTIME:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"the deployed case with tracing needs {name} installed (make install)")
        shutil.copytree(Path(spec.origin).parent, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    compile_tree(into, interpreter)
    return into


def median_ms(reports: list[Importtime]) -> float:
    return statistics.median(report.total_us for report in reports) / 1000


def median_cpu_ms(reports: list[Importtime]) -> float:
    return statistics.median(report.cpu_ms for report in reports)


def heaviest(reports: list[Importtime], key: str, top: int) -> list[tuple[str, float]]:
    """The `top` names by their median time (`by_package`: own time summed; `cumulative`: per module)."""
    tables = [report.by_package() if key == "package" else report.cumulative_us for report in reports]
    names = set().union(*tables)
    medians = {name: statistics.median(table.get(name, 0) for table in tables) / 1000 for name in names}
    return sorted(medians.items(), key=lambda item: -item[1])[:top]


def print_report(label: str, reports: list[Importtime], top: int) -> None:
    totals = ", ".join(f"{report.total_us / 1000:.0f}" for report in reports)
    print(
        f"\n{label}: median {median_ms(reports):.0f} ms ({len(reports)} interpreters: {totals} ms); "
        f"CPU {median_cpu_ms(reports):.0f} ms"
    )
    print("  packages by their modules' own import time:")
    for name, ms in heaviest(reports, "package", top):
        print(f"    {ms:8.1f} ms  {name}")
    print("  modules by cumulative import time (who pulls it in):")
    for name, ms in heaviest(reports, "cumulative", top + 1)[1:]:  # [0] is the handler itself
        print(f"    {ms:8.1f} ms  {name}")


def export(ref: str, into: Path) -> Path:
    """The tree of commit `ref` (tracked files only), with this checkout's untracked build outputs
    left out: importing the handler reads no model and no contract."""
    archive = into / "tree.tar"
    subprocess.run(["git", "archive", "--output", str(archive), ref], cwd=ROOT, check=True)
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per tree (default 7)")
    parser.add_argument("--top", type=int, default=12, help="rows per table (default 12)")
    parser.add_argument(
        "--baseline", default=BASELINE_REF, help=f"commit to compare (default {BASELINE_REF})"
    )
    parser.add_argument("--no-baseline", action="store_true", help="measure this tree only")
    parser.add_argument("--tracing", action="store_true", help="also import the trees with tracing on")
    args = parser.parse_args(argv)

    print(
        f"bench-coldstart: import {MODULE}, {args.runs} fresh interpreters per figure; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("this tree", ROOT)]
        if not args.no_baseline:
            trees.insert(0, (f"baseline {args.baseline}", export(args.baseline, Path(tmp))))
        cases = {
            f"{label}, tracing {'on' if tracing else 'off'}": Case(paths=(tree,), tracing=tracing)
            for label, tree in trees
            for tracing in ((False, True) if args.tracing else (False,))
        }
        cases["the libraries alone (pydantic, psycopg, its pool, redis, Powertools)"] = Case(
            paths=(ROOT,), statement=LIBRARIES
        )
        cases.update(deployed_cases(Path(tmp)))
        results = measure(cases, args.runs)
    for name, reports in results.items():
        print_report(name, reports, args.top)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    print("comparison (median import time, wall and CPU)")
    first = next(iter(results.values()))
    for name, reports in results.items():
        ms = median_ms(reports)
        print(
            f"  {name}: {ms:.0f} ms ({ms / median_ms(first):.2f}x the first), CPU {median_cpu_ms(reports):.0f} ms "
            f"({median_cpu_ms(reports) / median_cpu_ms(first):.2f}x); target <= {TARGET_MS:.0f} ms: "
            f"{'MET' if ms <= TARGET_MS else 'NOT MET'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
