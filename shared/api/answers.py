"""What the gateway answers itself, before any function runs (API Gateway's integration templates in
AWS, infra/ingest.py; tooling.local.gateway locally), apart from its error table in openapi.yaml: the
202 receipt of a queued batch and the 403 of an API key outside its usage plan. One definition each,
so that the two gateways cannot drift apart. Pure: infra imports it at synth.
"""

from __future__ import annotations

BATCHES_PATH = "/api/v1/events/batches/"


def receipt(batch_id: str) -> dict[str, str]:
    """The 202 answer of POST /api/v1/events: the batch is queued, its results are at `results`."""
    return {"batch_id": batch_id, "status": "queued", "results": f"{BATCHES_PATH}{batch_id}"}


def out_of_plan_message(operation: str) -> str:
    """The 403 message for an API key whose usage plan does not list `operation`."""
    return f"this API key's usage plan does not include {operation}"
