-- Security operations (issue 25): the SIEM's normalized security events and its findings, the SOAR's
-- actions, and the existing blocklist (intel.blocklist, which the scoring lookup already reads) taught
-- a third kind, `challenge` (the IPs the WAF's challenge rule and the local gateway answer with a
-- challenge), and the action that wrote an entry (so that undoing the action removes only its own entry).

CREATE SCHEMA IF NOT EXISTS siem;
CREATE SCHEMA IF NOT EXISTS soar;

-- One row per security event from any source (CloudWatch Logs subscriptions, the marketplace's login
-- attempts and sessions, fraud decisions and labels). `event_id` is derived from the source's own
-- identity (a log event's id, an attempt's id), so a replay or an overlapping poll stores it once.
CREATE TABLE siem.security_events (
    event_id     text PRIMARY KEY,
    source       text NOT NULL,
    kind         text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    occurred_at  timestamptz NOT NULL,
    ip           text,
    account      text,
    wallet       text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_time_idx ON siem.security_events (occurred_at);
CREATE INDEX security_events_severity_idx ON siem.security_events (severity, occurred_at);

-- A correlation rule's finding, stored once per dedup key (rule, subject, window bucket), with its
-- evidence (the events' ids and what they said).
CREATE TABLE siem.findings (
    finding_id    bigserial PRIMARY KEY,
    dedup_key     text NOT NULL UNIQUE,
    rule          text NOT NULL CHECK (rule IN ('brute_force', 'fraud_ring', 'ddos', 'admin_mfa')),
    severity      text NOT NULL CHECK (severity IN ('INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    subject_kind  text NOT NULL,
    subject       text NOT NULL,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    event_count   integer NOT NULL CHECK (event_count > 0),
    evidence      jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'handled', 'dismissed')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX findings_created_idx ON siem.findings (created_at);
CREATE INDEX findings_open_idx ON siem.findings (status, created_at) WHERE status = 'open';

-- Where each polled source was read up to (the poll re-reads a margin before it: ids dedupe).
CREATE TABLE siem.cursors (
    source      text PRIMARY KEY,
    position    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every SOAR action: what, on which target, why (which finding), when, until when, and what became of it.
-- One row per (finding, action, target): a finding delivered twice acts once.
CREATE TABLE soar.actions (
    action_id    bigserial PRIMARY KEY,
    finding_id   bigint REFERENCES siem.findings (finding_id),
    action       text NOT NULL CHECK (action IN ('block_ip', 'blacklist_wallet', 'challenge_ip', 'page', 'disable_admin')),
    target       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'done', 'dry_run', 'skipped', 'failed', 'undone', 'expired')),
    reason       text NOT NULL,
    actor        text NOT NULL DEFAULT 'soar',
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    undone_at    timestamptz,
    undone_by    text
);
CREATE UNIQUE INDEX actions_once_per_finding ON soar.actions (finding_id, action, target) WHERE finding_id IS NOT NULL;
CREATE INDEX actions_created_idx ON soar.actions (created_at);

ALTER TABLE intel.blocklist DROP CONSTRAINT blocklist_kind_check;
ALTER TABLE intel.blocklist ADD CONSTRAINT blocklist_kind_check CHECK (kind IN ('wallet', 'ip', 'challenge'));
ALTER TABLE intel.blocklist ADD COLUMN action_id bigint REFERENCES soar.actions (action_id) ON DELETE SET NULL;

CREATE OR REPLACE FUNCTION intel.blocklist_canonical() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind IN ('ip', 'challenge') THEN
        NEW.value := intel.canonical_ip_entry(NEW.value);
    END IF;
    RETURN NEW;
END
$$;

CREATE INDEX blocklist_challenge_network_idx ON intel.blocklist USING gist ((value::cidr) inet_ops) WHERE kind = 'challenge';
CREATE INDEX blocklist_expires_idx ON intel.blocklist (expires_at) WHERE expires_at IS NOT NULL;
