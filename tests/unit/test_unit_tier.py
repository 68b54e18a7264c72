"""The unit tier stays fast: collecting it loads none of the heavy libraries (the ML stack, web3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "numpy", "xgboost", "sklearn", "scipy", "web3", "eth_tester", "treelite")


def test_given_the_unit_tier_when_collected_then_no_heavy_library_is_imported() -> None:
    # Given a fresh interpreter, When pytest collects tests/unit (conftest and fixture plugins included)
    probe = (
        "import sys, pytest\n"
        "code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/unit'])\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
        "sys.exit(int(code))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    # Then it collected, and none of them was imported
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [line] = [line for line in done.stdout.splitlines() if line.startswith("HEAVY=")]
    assert line == "HEAVY=", f"collecting the unit tier imported {line.removeprefix('HEAVY=')}"
