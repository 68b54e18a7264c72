-- On-call (issue 27): the adjustments of a decision threshold that an alarm (a fraud-rate spike tightens
-- REQUIRE_2FA) or an admin made, each for a fixed time. A row is the record: the value in force, the
-- configured value it replaced, who or which alarm set it, why, and until when. It reverts by itself when
-- `expires_at` passes (nothing has to run); an admin ends one early by setting `ended_at`/`ended_by`.
CREATE SCHEMA IF NOT EXISTS oncall;

CREATE TABLE oncall.threshold_adjustments (
    adjustment_id  bigserial PRIMARY KEY,
    threshold      text NOT NULL CHECK (threshold IN ('two_factor')),
    value          double precision NOT NULL CHECK (value > 0 AND value < 1),
    base_value     double precision NOT NULL CHECK (base_value > 0 AND base_value < 1),
    source         text NOT NULL CHECK (source IN ('alarm', 'admin')),
    actor          text NOT NULL,
    reason         text NOT NULL,
    started_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL CHECK (expires_at > started_at),
    ended_at       timestamptz,
    ended_by       text,
    CHECK ((ended_at IS NULL) = (ended_by IS NULL))
);
CREATE INDEX threshold_adjustments_live_idx ON oncall.threshold_adjustments (threshold, expires_at DESC)
    WHERE ended_at IS NULL;
