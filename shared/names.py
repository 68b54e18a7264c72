"""The service's name and its CloudWatch metrics namespace: one definition, read by Powertools
(shared/observability), by the functions' environment and the WAF metric filter in infra/, by the
metrics catalogue (infra/metrics_catalogue.py) and by the local stack. No import, so that reading it
sets nothing up: infra reads it at synth, the local runner before Powertools is configured."""

SERVICE = "ticketguard"
NAMESPACE = "TicketGuard"
