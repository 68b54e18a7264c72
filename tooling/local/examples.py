"""The curl examples `ticketguard run` prints, which the README shows verbatim (section "Try it",
for http://127.0.0.1:3000; tests/e2e/test_readme.py holds them equal and runs them).

They use the fixed demo cast that the seeding creates (tooling.simulator.demo), so they give the same
answers on any day. Each `# expect:` line states what a test checks: the status codes in order, then
headers, then the part of the JSON body that holds on every run ("<number>", "<object>", "<date-time>"
and "<model version>" stand for values that move with every retrain or request; the notation is read
by tests/fixtures/readme.py)."""

from __future__ import annotations

import json

from shared.api.usage_plans import local_api_key
from tooling.simulator.demo import (
    DEMO_BLOCKED_WALLET,
    DEMO_HONEST_WALLET,
    DEMO_NEW_WALLET,
    DEMO_PRICE,
    DEMO_TICKETS,
)

_TEMPLATE = """\
KEY={key}
API={base}/api/v1/ml/predict/fraud

# 1. The honest demo buyer (an account with four weeks of purchases) buys demo ticket {honest_ticket}:
#    APPROVED by the model. Sent again, the same transaction_id answers the stored decision (replayed: true).
curl -si -X POST $API -H 'content-type: application/json' -H "x-api-key: $KEY" \\
  -d '{honest_body}'
# expect: 200 {{"transaction_id": "demo-ok-1", "decision": "APPROVED", "reason": "model", "degraded": false,
#   "fraud_score": "<number>", "confidence": "<number>", "top_features": "<object>",
#   "model_version": "<model version>", "scored_at": "<date-time>"}}

# 2. The demo scalper (banned; `make run` puts its wallet on the blocklist): BLOCKED without scoring.
curl -si -X POST $API -H 'content-type: application/json' -H "x-api-key: $KEY" \\
  -d '{blocked_body}'
# expect: 200 {{"transaction_id": "demo-blocked-1", "decision": "BLOCKED", "reason": "blocklist_wallet",
#   "fraud_score": null, "confidence": 1.0, "top_features": {{}}, "model_version": "<model version>"}}

# 3. A wallet without history tries six purchases within a minute: the sixth answers 429 with Retry-After.
RUN=$(date +%s)   # new transaction ids each time the loop runs
for i in 1 2 3 4 5 6; do
  curl -s -o /dev/null -D - -X POST $API -H 'content-type: application/json' -H "x-api-key: $KEY" \\
    -d '{burst_body}' \\
    | grep -iE '^(HTTP|retry-after)'
done
# expect: 200 x5, 429 Retry-After: 60

# 4. Health (anonymous: up or down per dependency), and the five KPIs of the last 24 hours.
curl -si {base}/health
# expect: 200 {{"status": "ok", "checks": {{"postgres": {{"status": "up"}}, "redis": {{"status": "up"}},
#   "model": {{"status": "up"}}}}}}
curl -si {base}/api/v1/metrics -H "x-api-key: $KEY"
# expect: 200 {{"kpis": {{"fraud_detection_rate": "<number>", "false_positive_rate": "<number>",
#   "resale_velocity_hours": "<number>", "user_engagement_score": "<number>", "revenue_per_hour": "<number>"}}}}"""


def _body(transaction_id: str, wallet: str, ticket: str) -> str:
    return json.dumps(
        {
            "transaction_id": transaction_id,
            "wallet_address": wallet,
            "ticket_id": DEMO_TICKETS[ticket],
            "price_paid": float(DEMO_PRICE),
        }
    )


def examples(base_url: str) -> str:
    """The examples for an API served at `base_url` (e.g. http://127.0.0.1:3000)."""
    return _TEMPLATE.format(
        key=local_api_key(),
        base=base_url,
        honest_ticket=DEMO_TICKETS["honest"],
        honest_body=_body("demo-ok-1", DEMO_HONEST_WALLET, "honest"),
        blocked_body=_body("demo-blocked-1", DEMO_BLOCKED_WALLET, "blocked"),
        burst_body=_body("demo-429-'$RUN-$i'", DEMO_NEW_WALLET, "new_wallet"),
    )
