"""`ticketguard train`: train, evaluate, compile and register a fraud model.

ticketguard train                         # simulator + ETL training set (the default source)
ticketguard train --data FILE.csv --label COLUMN [--exclude COL ...] [--out DIR]
ticketguard train --training-set FILE|s3://... [--registry s3://BUCKET/models/ --outcome FILE|s3://...]
                                          # an exported production training set (the retraining
                                          # pipeline's build step: training/retrain.py)
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.model.remote import Registry
from training import compile as native
from training import defences
from training import registry as local_registry

if TYPE_CHECKING:  # the heavy modules load when a run needs them (`--help` stays quick)
    from training.data import LabelledTable
    from training.pipeline import TrainOutcome
    from training.retrain import Baseline


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticketguard train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_argument_group("a labelled table of your own")
    source.add_argument("--data", type=Path, help="CSV file with one row per transaction")
    source.add_argument("--label", help="the 0/1 column to predict (required with --data)")
    source.add_argument("--exclude", nargs="+", default=[], metavar="COLUMN", help="columns to leave out")
    source.add_argument(
        "--time-column",
        help="timestamp column for the time split (default: guessed by name; none found: a stratified "
        "random split)",
    )
    exported = parser.add_argument_group("an exported production training set (the retraining pipeline)")
    exported.add_argument(
        "--training-set", metavar="FILE|s3://...", help="gzip/plain CSV written by the pipeline's export step"
    )
    exported.add_argument(
        "--registry",
        metavar="s3://BUCKET/models/",
        help="gate against the version its CURRENT names (else the shipped model) and upload the candidate "
        "there; CURRENT is left to the publish step",
    )
    exported.add_argument(
        "--outcome", metavar="FILE|s3://...", help="with --registry: write the outcome JSON"
    )
    exported.add_argument("--source", help="what the training set is, for the manifest and report")
    sim = parser.add_argument_group("the default source: simulated marketplace -> ETL training set")
    sim.add_argument("--weeks", type=int, default=6, help="weeks of marketplace to simulate (default 6)")
    sim.add_argument(
        "--scale",
        type=float,
        default=1.5,
        help="simulator traffic, x 600 orders/day (default 1.5: the shipped model)",
    )
    sim.add_argument(
        "--save-training-set", type=Path, metavar="FILE.csv", help="also write the built training set as CSV"
    )
    _add_run_options(parser)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where the version goes, how it is gated and compiled: the same for every source."""
    parser.add_argument("--out", type=Path, help="registry directory (default: model_artifacts/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bootstrap", type=int, default=500, help="bootstrap resamples for the 95%% intervals"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=defences.DEFAULT_TOLERANCE,
        help="gate: allowed AUC drop vs the current model",
    )
    parser.add_argument(
        "--no-promote", action="store_true", help="register the version without moving CURRENT"
    )
    parser.add_argument("--force", action="store_true", help="promote even when the gate refuses (recorded)")
    parser.add_argument(
        "--live-gate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="gate on the live path too (tooling.livepath.gate, about 10 minutes): served its own test week "
        "through the handlers, the candidate must reproduce its report's FPR interval at REQUIRE_2FA; on a "
        "world it never saw (seed 104, 49 days x 900/day) its FPR must be at most 2.0%%; no training/serving "
        "skew in either. Default: on for the simulator source (the shipped model's route); off "
        "for --data (its own features, not the service's) and --training-set (the retraining build has no "
        "embedded PostgreSQL); --no-live-gate skips it for a quick local run",
    )
    parser.add_argument(
        "--calibration-worlds",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fit the bands on five more simulated worlds besides validation (training.worlds, about 6 "
        "minutes): each band starts where its false-positive rate holds on every one. Default: on for the "
        "simulator source (--data and --training-set have no simulated world); --no-calibration-worlds "
        "fits on validation alone",
    )
    parser.add_argument(
        "--arch",
        default=",".join(native.ARCHITECTURES),
        help="architectures to compile for (default x86_64,aarch64)",
    )


def live_gate_wanted(args: argparse.Namespace) -> bool:
    """The live-path check is part of the gate unless the run opts out: by default for the simulator
    source; --live-gate / --no-live-gate decide explicitly."""
    if args.live_gate is not None:
        return bool(args.live_gate)
    return args.data is None and args.training_set is None


def calibration_worlds_wanted(args: argparse.Namespace) -> bool:
    """The calibration worlds: only for the simulator source (their features are the service's, which a
    table of one's own does not have), on unless --no-calibration-worlds."""
    return args.data is None and args.training_set is None and args.calibration_worlds is not False


def _live_gate() -> Any:
    from tooling.livepath.gate import live_path_gate

    return live_path_gate


def cli(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.data is not None and not args.label:
        parser.error("--data needs --label COLUMN")
    if args.data is None and (args.label or args.exclude or args.time_column):
        parser.error("--label/--exclude/--time-column go with --data FILE.csv")
    if args.training_set is not None and args.data is not None:
        parser.error("--training-set and --data are two different sources: give one")
    if (args.registry or args.outcome or args.source) and args.training_set is None:
        parser.error("--registry/--outcome/--source go with --training-set")
    if args.outcome and not args.registry:
        parser.error("--outcome needs --registry")
    if not 0 <= args.tolerance < 1 or args.bootstrap < 0 or args.weeks < 3 or not 0 < args.scale <= 100:
        parser.error("need 0 <= --tolerance < 1, --bootstrap >= 0, --weeks >= 3 and 0 < --scale <= 100")
    architectures = tuple(a.strip() for a in args.arch.split(",") if a.strip())
    unknown = set(architectures) - set(native.ARCHITECTURES)
    if unknown or not architectures:
        parser.error(f"--arch takes {', '.join(native.ARCHITECTURES)}")

    with tempfile.TemporaryDirectory(prefix="tg-train-") as work:
        return _train(args, architectures, Path(work))


@dataclass
class _Source:
    """The labelled table to train on, what it is, and (for an exported set with --registry) where the
    candidate goes and the model it must beat."""

    table: LabelledTable
    name: str
    registry: Registry | None = None
    baseline: Baseline | None = None
    s3: Any = None
    extra: dict[str, object] = field(default_factory=dict)
    worlds: dict[str, Any] = field(default_factory=dict)  # training.worlds.calibration_rows


def _train(args: argparse.Namespace, architectures: tuple[str, ...], work: Path) -> int:
    from training.pipeline import TrainOptions, run_training

    found = _source(args, work)
    registry, baseline = found.registry, found.baseline
    for warning in found.table.warnings:
        print(f"warning: {warning}")
    options = TrainOptions(
        out_root=args.out or (work / "registry" if registry else local_registry.default_root()),
        training_source=found.name,
        seed=args.seed,
        n_boot=args.bootstrap,
        tolerance=args.tolerance,
        promote=not args.no_promote and registry is None,
        force=args.force,
        architectures=architectures,
        extra_manifest=found.extra,
        current_model_dir=baseline.directory if baseline else None,
        live_gate=_live_gate() if live_gate_wanted(args) else None,
        calibration_worlds=found.worlds,
    )
    outcome = run_training(found.table, options)
    _print_outcome(outcome, registered=registry is not None)
    if registry is not None and baseline is not None:
        _upload(args, outcome, registry, baseline, found.s3)
    return 0


def _source(args: argparse.Namespace, work: Path) -> _Source:
    if args.training_set is not None:
        return _exported_source(args, work)
    if args.data is not None:
        from training.data import load_csv

        table = load_csv(args.data, args.label, exclude=args.exclude, time_column=args.time_column)
        return _Source(table, f"user table {args.data.name} (label {args.label!r})")
    from training.sources import simulated_training_table

    table, details = simulated_training_table(weeks=args.weeks, scale=args.scale, seed=args.seed)
    if args.save_training_set:
        frame = table.features.copy()
        frame.insert(0, "occurred_at", table.times)
        frame["is_fraud"] = table.labels
        frame.to_csv(args.save_training_set, index=False)
        print(f"training set: {args.save_training_set} ({len(frame)} rows)")
    name = f"simulator -> ETL training set ({details['summary']})"
    if not calibration_worlds_wanted(args):
        return _Source(table, name, extra={"simulation": details})
    from training.worlds import calibration_rows, describe

    worlds = calibration_rows()
    return _Source(table, f"{name}; {describe()}", extra={"simulation": details}, worlds=worlds)


def _exported_source(args: argparse.Namespace, work: Path) -> _Source:
    from training import retrain

    s3 = _s3_client() if args.training_set.startswith("s3://") or args.registry else None
    name = args.source or f"exported training set {args.training_set}"
    table = retrain.read_training_set(retrain.local_copy(args.training_set, work / "input", s3), name)
    if not args.registry:
        return _Source(table, name, s3=s3)
    registry = Registry.parse(args.registry)
    baseline = retrain.fetch_baseline(registry, s3, work)
    print(f"baseline: {baseline.source} model {baseline.version or '(none)'}")
    return _Source(table, name, registry, baseline, s3)


def _print_outcome(outcome: TrainOutcome, *, registered: bool) -> None:
    test = outcome.report["test"]
    print(f"model {outcome.version} -> {outcome.directory}")
    print(f"features: {', '.join(outcome.report['features'])}")
    print(
        f"test split: {test['rows']} rows, {test['frauds']} frauds; AUC-ROC {test['auc_roc']:.3f}, "
        f"AUC-PR {test['auc_pr']:.3f}"
    )
    for key, point in test["thresholds"].items():
        print(
            f"  at {key}: detection {point['detection_rate']:.1%}, FPR {point['false_positive_rate']:.2%}, "
            f"F1 {point['f1']:.3f}"
        )
    operating = outcome.report["operating_point"]
    for band, point in operating["bands"].items():
        print(
            f"  band {band} (score {point['score_threshold']:.2f} = probability {point['probability_cut']:.4g}): "
            f"detection {point['detection']['rate']:.1%}, FPR {point['false_positive']['rate']:.2%}"
        )
    at = operating["at_spec_fpr"]
    print(
        f"  at FPR {operating['spec']['false_positive_rate']:.1%} on test: detection {at['detection']['rate']:.1%} "
        f"(spec: {operating['spec']['detection_rate']:.1%})"
    )
    gate = outcome.report["gate"]
    if not registered:
        verdict = "promoted" if outcome.promoted else "NOT promoted"
    else:
        verdict = "passed (the publish step promotes it)" if gate["promote"] else "refused"
    print(f"gate: {verdict} ({'; '.join(gate['reasons'])})")
    print(f"report: {outcome.directory / 'report.md'}")


def _upload(
    args: argparse.Namespace, outcome: TrainOutcome, registry: Registry, baseline: Baseline, s3: Any
) -> None:
    """The candidate to the registry (CURRENT unchanged) and, with --outcome, the outcome document."""
    from training import retrain

    uploaded = retrain.upload_version(outcome.directory, registry, s3)
    print(f"uploaded {len(uploaded)} files to {registry.uri}{outcome.version}/ (CURRENT unchanged)")
    if args.outcome:
        document = retrain.outcome_document(
            outcome, registry=registry, baseline=baseline, forced=args.force, uploaded=uploaded
        )
        retrain.write_outcome(document, args.outcome, s3)
        print(f"outcome: {args.outcome} (promote: {document['promote']})")


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")
