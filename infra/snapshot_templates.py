"""Snapshot the synthesized templates of dev and prod, for a before/after comparison (`diff -r`).

    python infra/snapshot_templates.py OUT_DIR [--env dev --env prod]
    make templates-snapshot                      # -> build/templates/{dev,prod}/<stack>.json

Synthesizes without the real layer build (tiny placeholder layer directories, as the infra tests
do), writes each template as sorted, indented JSON, and replaces the asset hashes (the S3 keys and
asset paths named by a content hash of Lambda code or layers, which change whenever any Python file
changes) by `<asset-hash>`, and so the hash that names a function's published version (`fn.current_version`,
the score function's `...CurrentVersion<8 hex><32 hex>` logical id, which CDK derives from the function's
properties, its code's S3 key among them): a code change alone is not a template change.

To compare with another commit, run this script against that commit's tree: from a worktree, with
the worktree as the working directory and first on PYTHONPATH, so that `infra` and `shared` are the
worktree's (the script prints which `infra` it synthesized):

    git worktree add /tmp/base a33f496
    (cd /tmp/base && PYTHONPATH=/tmp/base $PWD/.venv/bin/python $PWD/infra/snapshot_templates.py /tmp/t-base)
    .venv/bin/python infra/snapshot_templates.py /tmp/t-now && diff -r /tmp/t-base /tmp/t-now
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

# A content hash where CDK names an asset by it: `<hash>.zip` (S3 key of code and layers), `asset.<hash>`
# (asset path), `...container-assets-...:<hash>` (image tag). Other hashes (the migrations' Fingerprint,
# which says whether a deploy applies migrations) stay: a change there is a template change.
# A function's CurrentVersion logical id: `<id>CurrentVersion` + 8 upper-case hex of its construct path (stable)
# + 32 lower-case hex of the function's rendered properties (code included): the latter changes with any code change.
ASSET_HASH = re.compile(
    r"(?<=asset\.)[0-9a-f]{64}\b|\b[0-9a-f]{64}(?=\.zip\b)|(?<=CurrentVersion[0-9A-F]{8})[0-9a-f]{32}\b"
)
IMAGE_TAG = re.compile(r"(container-assets-.*:)[0-9a-f]{64}\b")
PLACEHOLDER = "<asset-hash>"


def without_asset_hashes(value: Any) -> Any:
    """`value` with every asset hash replaced by PLACEHOLDER."""
    if isinstance(value, str):
        return IMAGE_TAG.sub(rf"\g<1>{PLACEHOLDER}", ASSET_HASH.sub(PLACEHOLDER, value))
    if isinstance(value, list):
        return [without_asset_hashes(item) for item in value]
    if isinstance(value, dict):
        return {without_asset_hashes(key): without_asset_hashes(item) for key, item in value.items()}
    return value


def placeholder_app(env_name: str, workdir: Path) -> tuple[Any, Path]:
    """The CDK app of `env_name` with cdk-nag on, built over tiny placeholder layer directories in
    `workdir` (no ~100 MB layer build), and the directory it synthesizes to. The infra tests use it too."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from aws_cdk import App

    import infra
    from infra.config import load_environment
    from infra.nag import enable_nag
    from infra.stacks import BuildPaths, build

    root = Path(infra.__file__).resolve().parent.parent
    layers = {}
    for name, inner, what in (("deps", "python", "dependencies"), ("model", "model", "model")):
        folder = workdir / "layers" / name / inner
        folder.mkdir(parents=True)
        (folder / "placeholder.txt").write_text(f"test placeholder for the {what} layer\n")
        layers[name] = folder.parent
    outdir = workdir / "cdk.out"
    context = json.loads((root / "cdk.json").read_text())["context"]
    config = load_environment(context["environments"], env_name)
    app = App(outdir=str(outdir), context={**context, "env": env_name})
    paths = BuildPaths(deps_layer=layers["deps"], model_layer=layers["model"], staging=workdir / "staging")
    build(app, config, paths, account=None)
    enable_nag(app)
    return app, outdir


def synthesize(env_name: str, workdir: Path) -> dict[str, dict[str, Any]]:
    """Stack name -> template of the app for `env_name`, synthesized in `workdir`."""
    app, outdir = placeholder_app(env_name, workdir)
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings: the templates are written all the same
        print(f"{env_name}: synthesis reported findings: {exc}", file=sys.stderr)
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(outdir.glob("*.template.json"))
    }


def write_snapshot(out: Path, environments: list[str]) -> list[Path]:
    written = []
    for env_name in environments:
        with tempfile.TemporaryDirectory(prefix=f"tg-synth-{env_name}-") as tmp:
            templates = synthesize(env_name, Path(tmp))
        target = out / env_name
        target.mkdir(parents=True, exist_ok=True)
        for stack, template in templates.items():
            path = target / f"{stack}.json"
            path.write_text(json.dumps(without_asset_hashes(template), indent=2, sort_keys=True) + "\n")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for <env>/<stack>.json")
    parser.add_argument("--env", action="append", dest="environments", help="dev, prod (default both)")
    args = parser.parse_args(argv)
    import infra

    print(f"synthesizing {Path(infra.__file__).resolve().parent}", file=sys.stderr)
    for path in write_snapshot(args.out, args.environments or ["dev", "prod"]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
