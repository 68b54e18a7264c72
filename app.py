#!/usr/bin/env python3
"""The CDK app: `npx cdk synth -c env=dev|prod`. No AWS credentials and no context lookups needed.

Context keys (all optional): `env` (default dev), `tg:depsLayerDir`, `tg:modelLayerDir`,
`tg:stagingDir` (default build/layers/<arch>/{deps,model} and build/assets/<env>).
"""

from __future__ import annotations

import os
from pathlib import Path

from aws_cdk import App

from infra.config import load_environment
from infra.nag import enable_nag
from infra.stacks import BuildPaths, build

ROOT = Path(__file__).resolve().parent


def main() -> None:
    app = App()
    env_name = app.node.try_get_context("env") or "dev"
    config = load_environment(app.node.try_get_context("environments"), env_name)
    layers = ROOT / "build" / "layers" / config.architecture

    def path(key: str, default: Path) -> Path:
        value = app.node.try_get_context(key)
        return Path(value).resolve() if value else default

    paths = BuildPaths(
        deps_layer=path("tg:depsLayerDir", layers / "deps"),
        model_layer=path("tg:modelLayerDir", layers / "model"),
        staging=path("tg:stagingDir", ROOT / "build" / "assets" / env_name),
    )
    build(app, config, paths, account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    enable_nag(app)
    app.synth()


if __name__ == "__main__":
    main()
