-- Sessions and login attempts, normalised and geolocated (for SIEM rules and dashboards); the
-- email only as its sha256 and the user agent only as a hash too.
CREATE TABLE intel.sessions (
    session_id      bigint PRIMARY KEY,
    user_id         bigint NOT NULL,
    ip              inet NOT NULL,
    geo_country     char(2),
    user_agent_hash text NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX intel_sessions_user_idx ON intel.sessions (user_id, started_at);

CREATE TABLE intel.login_attempts (
    attempt_id     bigint PRIMARY KEY,
    user_id        bigint,
    email_hash     text NOT NULL,
    ip             inet NOT NULL,
    geo_country    char(2),
    success        boolean NOT NULL,
    failure_reason text,
    is_admin       boolean NOT NULL,
    attempted_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX intel_login_attempts_time_idx ON intel.login_attempts (attempted_at);
CREATE INDEX intel_login_attempts_ip_idx ON intel.login_attempts (ip, attempted_at);
