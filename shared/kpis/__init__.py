"""The five KPIs and the dashboard materialized views."""

from shared.kpis.kpis import ConfusionCounts, KpiCounts, KpiReport, compute_kpis, confusion_counts
from shared.kpis.views import VIEWS, RefreshSummary, refresh_views

__all__ = [
    "VIEWS",
    "ConfusionCounts",
    "KpiCounts",
    "KpiReport",
    "RefreshSummary",
    "compute_kpis",
    "confusion_counts",
    "refresh_views",
]
