"""The monitoring page's files: served by name from a fixed list only, with Chart.js bundled from the
pinned npm package (no CDN, no URL of another origin in the page)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.errors import NotFound
from shared.monitoring.page import ASSETS, CHART_JS, CONTENT_SECURITY_POLICY, asset, page

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_page_then_it_loads_only_files_of_its_own_origin() -> None:
    # Given the HTML shell
    html = page().body
    # Then every script and stylesheet it loads is one of the assets, by a relative URL
    loaded = [url for url in re.findall(r"(?:src|href)=\"([^\"]+)\"", html) if url != "data:,"]
    assert sorted(loaded) == sorted(f"monitoring/assets/{name}" for name in ASSETS)
    # And no URL of another origin appears anywhere in the page or its own script
    for text in (html, asset("monitoring.js").body, asset("monitoring.css").body):
        assert not re.search(r"https?://", text)
    # And the policy the page answers with allows this origin only
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "connect-src 'self'" in CONTENT_SECURITY_POLICY


def test_given_the_build_then_chart_js_is_the_pinned_package_file() -> None:
    # Given package.json and its lock pin chart.js exactly
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["chart.js"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/chart.js"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned) and locked["version"] == pinned
    # Then the served file is that package's UMD bundle, copied by the build (make monitoring-assets)
    served = asset(CHART_JS)
    package_file = ROOT / "node_modules" / "chart.js" / "dist" / CHART_JS
    assert served.body == package_file.read_text(encoding="utf-8")
    assert f"Chart.js v{pinned}" in served.body[:300] and served.content_type.startswith("text/javascript")


@pytest.mark.parametrize("name", ["../monitoring.html", "vendor/chart.umd.min.js", "monitoring.html", ""])
def test_given_a_name_outside_the_list_then_not_found(name: str) -> None:
    with pytest.raises(NotFound) as refused:
        asset(name)
    assert refused.value.field == "asset"
