-- Model operations (issue 17): the candidate's scores beside the served model's, the quality of each
-- version over settled windows, and the log of what the model-ops job decided (retrains, rollbacks).

-- A candidate in shadow scores every purchase the served model scores and decides nothing: its score
-- and the decision it would have made, next to the served version's (intel.fraud_predictions).
-- A canary's decisions are intel.fraud_predictions rows of its own version.
CREATE TABLE intel.model_shadow_scores (
    transaction_id text NOT NULL,
    model_version  text NOT NULL,
    served_version text NOT NULL,
    fraud_score    double precision NOT NULL CHECK (fraud_score BETWEEN 0 AND 1),
    decision       text NOT NULL CHECK (decision IN ('APPROVED', 'REQUIRE_2FA', 'MANUAL_REVIEW', 'BLOCKED')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (transaction_id, model_version)
);
CREATE INDEX model_shadow_scores_version_idx ON intel.model_shadow_scores (model_version, created_at);
CREATE INDEX fraud_predictions_version_idx ON intel.fraud_predictions (model_version, created_at);

-- One row per model version, role and settled 24-hour window (shared/kpis/quality.py).
CREATE TABLE intel.model_quality (
    model_version  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('served', 'shadow')),
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL CHECK (window_end > window_start),
    scored         integer NOT NULL CHECK (scored >= 0),
    true_positive  integer NOT NULL CHECK (true_positive >= 0),
    false_positive integer NOT NULL CHECK (false_positive >= 0),
    true_negative  integer NOT NULL CHECK (true_negative >= 0),
    false_negative integer NOT NULL CHECK (false_negative >= 0),
    frauds         integer NOT NULL CHECK (frauds >= 0),
    frauds_detected integer NOT NULL CHECK (frauds_detected >= 0),
    legit          integer NOT NULL CHECK (legit >= 0),
    legit_flagged  integer NOT NULL CHECK (legit_flagged >= 0),
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_version, role, window_end)
);

-- What the model-ops job did and why: the emergency retraining's cooldown reads the last start here.
CREATE TABLE intel.model_ops_log (
    entry_id      bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    action        text NOT NULL CHECK (action IN
                    ('retrain_started', 'retrain_cooldown', 'retrain_outcome', 'rollback')),
    reason        text NOT NULL,
    model_version text,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX model_ops_log_action_idx ON intel.model_ops_log (action, at);
