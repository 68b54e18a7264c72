-- The one audit log, append-only and hash-chained (issue 26 item 3). intel.audit_log (GDPR erasures,
-- migrations) gains what an admin call records (role, before/after, source IP, request id) and a chain:
-- each row's row_hash is sha256 over its content and the previous row's row_hash, in chain_seq order.
-- A trigger sets chain_seq, prev_hash and row_hash on every insert, whoever writes, so a writer cannot
-- choose them; `ticketguard audit verify` recomputes the chain and names the first changed, removed or
-- inserted row. UPDATE, DELETE and TRUNCATE are refused by triggers and never granted to the service
-- role (ticketguard_service). Only the retention job removes rows (archived first, to the Object Lock
-- bucket): it sets ticketguard.audit_purge for its transaction, and the trigger records the last
-- removed row's seq and hash as the chain's anchor, from which verification starts.

ALTER TABLE intel.audit_log
    ADD COLUMN role text,
    ADD COLUMN source_ip text,
    ADD COLUMN request_id text,
    ADD COLUMN before jsonb,
    ADD COLUMN after jsonb,
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash text;

-- The chain's head (the last row) and anchor (the last row retention removed; seq 0 = none).
CREATE TABLE intel.audit_chain (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    head_seq    bigint NOT NULL,
    head_hash   text NOT NULL,
    anchor_seq  bigint NOT NULL,
    anchor_hash text NOT NULL
);

CREATE FUNCTION intel.audit_row_hash(
    prev_hash text, chain_seq bigint, audit_id bigint, actor text, role text, action text, target text,
    details jsonb, before jsonb, after jsonb, source_ip text, request_id text, at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    -- jsonb's text form is canonical (keys sorted, one spelling per value); the time in microseconds
    -- since the epoch does not depend on the session's TimeZone.
    SELECT encode(sha256(convert_to(jsonb_build_array(
        prev_hash, chain_seq, audit_id, actor, role, action, target, details, before, after,
        source_ip, request_id, (extract(epoch FROM at) * 1000000)::bigint)::text, 'UTF8')), 'hex')
$$;

CREATE FUNCTION intel.audit_chain_link() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, intel AS $$
DECLARE
    chain intel.audit_chain;
BEGIN
    -- One writer at a time extends the chain: the head row's lock is held to the end of the writer's
    -- transaction, so chain order is commit order and a rolled-back row leaves no gap.
    SELECT * INTO chain FROM intel.audit_chain FOR UPDATE;
    NEW.chain_seq := chain.head_seq + 1;
    NEW.prev_hash := chain.head_hash;
    NEW.row_hash := intel.audit_row_hash(NEW.prev_hash, NEW.chain_seq, NEW.audit_id, NEW.actor, NEW.role,
        NEW.action, NEW.target, NEW.details, NEW.before, NEW.after, NEW.source_ip, NEW.request_id, NEW.at);
    UPDATE intel.audit_chain SET head_seq = NEW.chain_seq, head_hash = NEW.row_hash;
    RETURN NEW;
END
$$;

CREATE FUNCTION intel.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, intel AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('ticketguard.audit_purge', true) = 'on' THEN
        UPDATE intel.audit_chain SET anchor_seq = OLD.chain_seq, anchor_hash = OLD.row_hash
         WHERE OLD.chain_seq > anchor_seq;
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'intel.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The rows written before the chain existed are chained now, in the order they were written.
DO $$
DECLARE
    seq bigint := 0;
    prev text := repeat('0', 64);
    r intel.audit_log;
BEGIN
    FOR r IN SELECT * FROM intel.audit_log ORDER BY at, audit_id LOOP
        seq := seq + 1;
        UPDATE intel.audit_log SET chain_seq = seq, prev_hash = prev,
               row_hash = intel.audit_row_hash(prev, seq, r.audit_id, r.actor, r.role, r.action, r.target,
                   r.details, r.before, r.after, r.source_ip, r.request_id, r.at)
         WHERE audit_id = r.audit_id
        RETURNING row_hash INTO prev;
    END LOOP;
    INSERT INTO intel.audit_chain (head_seq, head_hash, anchor_seq, anchor_hash)
    VALUES (seq, prev, 0, repeat('0', 64));
END
$$;

ALTER TABLE intel.audit_log
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL,
    ADD CONSTRAINT audit_log_chain_seq_key UNIQUE (chain_seq);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON intel.audit_log
    FOR EACH ROW EXECUTE FUNCTION intel.audit_chain_link();
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON intel.audit_log
    FOR EACH ROW EXECUTE FUNCTION intel.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON intel.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION intel.audit_log_append_only();

-- Searches of the admin surface: by actor, action, target, time.
CREATE INDEX audit_log_actor_idx ON intel.audit_log (actor, at);
CREATE INDEX audit_log_action_idx ON intel.audit_log (action, at);
CREATE INDEX audit_log_target_idx ON intel.audit_log (target, at);

-- The service role: the admin function's transactions run as it (SET LOCAL ROLE, shared/admin/store.py).
-- Everything on TicketGuard's tables (those of later migrations too, through default privileges) except
-- changing or removing audit rows and the chain's bookkeeping (its triggers run as their owner).
DO $$
DECLARE
    schema_name text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ticketguard_service') THEN
        CREATE ROLE ticketguard_service NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'ticketguard_service', 'MEMBER') THEN
        EXECUTE format('GRANT ticketguard_service TO %I', current_user);
    END IF;
    FOR schema_name IN SELECT nspname FROM pg_namespace
                        WHERE nspname IN ('intel', 'marketplace', 'ingest', 'retention', 'siem', 'soar') LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO ticketguard_service', schema_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO ticketguard_service',
                       schema_name);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO ticketguard_service', schema_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES '
                       'TO ticketguard_service', schema_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES '
                       'TO ticketguard_service', schema_name);
    END LOOP;
END
$$;
REVOKE UPDATE, DELETE, TRUNCATE ON intel.audit_log FROM ticketguard_service, PUBLIC;
REVOKE ALL ON intel.audit_chain FROM ticketguard_service, PUBLIC;
GRANT SELECT ON intel.audit_chain TO ticketguard_service;
