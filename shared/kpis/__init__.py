"""The five KPIs and the dashboard materialized views."""

from shared.kpis.kpis import KpiCounts, KpiReport, compute_kpis
from shared.kpis.views import VIEWS, RefreshSummary, refresh_views

__all__ = ["VIEWS", "KpiCounts", "KpiReport", "RefreshSummary", "compute_kpis", "refresh_views"]
