"""The monitoring page's files: the HTML shell, its script and style (shared/monitoring/static/) and
Chart.js, bundled from the pinned npm package by the build (`make monitoring-assets`, part of
`make install`, copies node_modules/chart.js/dist/chart.umd.min.js to static/vendor/; no CDN).

The shell and its assets hold no data: every figure comes from the JSON routes behind the admin
authorization. They answer with a Content-Security-Policy that allows scripts, styles and requests
from this origin only."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.errors import ConfigurationError, NotFound

STATIC_DIR = Path(__file__).with_name("static")
VENDOR_DIR = STATIC_DIR / "vendor"
CHART_JS = "chart.umd.min.js"

# asset name -> (file, content type); nothing else is served
ASSETS: dict[str, tuple[Path, str]] = {
    "monitoring.js": (STATIC_DIR / "monitoring.js", "text/javascript; charset=utf-8"),
    "monitoring.css": (STATIC_DIR / "monitoring.css", "text/css; charset=utf-8"),
    CHART_JS: (VENDOR_DIR / CHART_JS, "text/javascript; charset=utf-8"),
}
PAGE = STATIC_DIR / "monitoring.html"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class StaticFile:
    body: str
    content_type: str


@lru_cache(maxsize=8)
def _read(path: Path, content_type: str) -> StaticFile:
    if not path.is_file():
        raise ConfigurationError(
            f"{path.name} is missing from {path.parent}: build the page's assets (make monitoring-assets)"
        )
    return StaticFile(path.read_text(encoding="utf-8"), content_type)


def page() -> StaticFile:
    return _read(PAGE, "text/html; charset=utf-8")


def asset(name: str) -> StaticFile:
    """One of ASSETS by name; anything else is a 404 (no path is ever built from the request)."""
    found = ASSETS.get(name)
    if found is None:
        raise NotFound(f"no asset {name!r}; the page's assets are {', '.join(sorted(ASSETS))}", field="asset")
    return _read(*found)
