"""The marketplace's facts in (issue 11 item 2): a batch validated event by event, stored once
(an `ingest.events` ledger keyed by event id) by upserts that let the newest `occurred_at` win."""
