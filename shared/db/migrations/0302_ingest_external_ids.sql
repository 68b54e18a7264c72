-- The marketplace's own text ids (issue 11): the backend tables key on bigint, so a text id sent to
-- ingest (user "usr_8f2", ticket "evt_xyz_001") is given an integer once, here, and every later fact
-- and the scoring path use the same one. Integer ids are used as they are; the integers given to text
-- ids start at 2^62, above any integer a marketplace is likely to send.
CREATE SEQUENCE ingest.external_id_seq START WITH 4611686018427387904;

CREATE TABLE ingest.external_ids (
    kind        text NOT NULL CHECK (kind IN ('user', 'event', 'ticket', 'order', 'session', 'login')),
    external_id text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 128),
    internal_id bigint NOT NULL DEFAULT nextval('ingest.external_id_seq') UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, external_id)
);
