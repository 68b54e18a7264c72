"""`npx cdk synth` as a normal user (issue 10 finding 4): what the synth's make targets would run on a
fresh clone needs Node, Python and the pinned packages only, no apt, no root, no cross compiler (the
compiled model libraries are committed; the toolchain is for `make model` and the suite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.fixtures.environment import missing_environment
from tests.fixtures.infra import ROOT

pytestmark = pytest.mark.xdist_group("infra")

# Words of a recipe that needs root, a system package manager, the cross toolchain or the local stack.
FORBIDDEN = ("apt-get", "dpkg", "sudo", "aarch64-linux-gnu", "qemu", "pgbouncer", "ML_TOOLCHAIN")


def _planned(target: str) -> str:
    """Every command `make <target>` would run with every prerequisite out of date (a fresh clone)."""
    make = shutil.which("make")
    if make is None:
        missing_environment("no make on PATH", "install make (`make test` itself needs it)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    result = subprocess.run(
        [make, "--dry-run", "--always-make", "--no-print-directory", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_given_cdk_json_then_the_app_is_the_cdk_app_make_target():
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    assert app.split()[0] == "make" and app.split()[-1] == "cdk-app"


@pytest.mark.parametrize("target", ["cdk-app", "synth"])
def test_given_a_fresh_clone_when_synth_runs_then_nothing_needs_root_apt_or_a_cross_compiler(target):
    # Given a fresh clone (every prerequisite out of date), When the synth's make target is planned
    planned = _planned(target)
    # Then it builds the venv and the layers and runs the app...
    assert "uv pip sync" in planned and "layers/build.py" in planned
    assert "app.py" in planned or "cdk synth" in planned
    # ...and nothing that needs root, apt, the cross toolchain or the local stack's pooler
    assert [word for word in FORBIDDEN if word in planned] == [], planned
