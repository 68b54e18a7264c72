-- The review queue of the admin surface (issue 26): the MANUAL_REVIEW and REQUIRE_2FA decisions of
-- intel.fraud_predictions, each claimed by an analyst and resolved as fraud or legitimate (which stores
-- a `review` label in intel.fraud_labels). One row per item once someone claimed it; no foreign key to
-- the prediction (retention removes predictions after 180 days; the review's row and its audit stay).
CREATE TABLE intel.review_items (
    transaction_id text PRIMARY KEY,
    status         text NOT NULL CHECK (status IN ('claimed', 'resolved')),
    claimed_by     text NOT NULL,
    claimed_at     timestamptz NOT NULL,
    resolved_by    text,
    resolved_at    timestamptz,
    resolution     text CHECK (resolution IN ('fraud', 'legitimate')),
    note           text,
    CHECK ((status = 'resolved') = (resolution IS NOT NULL AND resolved_by IS NOT NULL AND resolved_at IS NOT NULL))
);

-- The queue's listing: reviewable decisions, newest first.
CREATE INDEX fraud_predictions_review_idx ON intel.fraud_predictions (created_at DESC)
    WHERE decision IN ('MANUAL_REVIEW', 'REQUIRE_2FA');

-- The admin function's transactions run as the service role (migration 0540): its grants on the table.
GRANT SELECT, INSERT, UPDATE ON intel.review_items TO ticketguard_service;
