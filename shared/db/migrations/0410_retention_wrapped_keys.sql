-- The archive's subject keys under a master key (issue 21 item 5): the database alone decrypts nothing.
-- shared/retention/keyring.py: each subject key is stored wrapped (AES-SIV) by a key-encryption key, and
-- a key-encryption key is stored only wrapped by the master key (a KMS key in AWS: GenerateDataKey and
-- Decrypt; a local master key on a laptop).
CREATE TABLE retention.wrapping_keys (
    kek_id     uuid PRIMARY KEY,
    -- Which master key wrapped it: 'kms:<key ARN>' or 'local:<fingerprint of the local master key>'.
    master     text NOT NULL CHECK (master ~ '^(kms|local):.+'),
    -- KMS's CiphertextBlob (at most 6144 bytes, KMS's own limit) or the local wrapper's bytes.
    wrapped    bytea NOT NULL CHECK (length(wrapped) BETWEEN 16 AND 6144),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_wrapping_keys_master_idx ON retention.wrapping_keys (master, created_at DESC);

-- A row holds its key either wrapped (every key written since) or, until the first run with a master key
-- seals it, in clear (the keys written before this migration, which v1 archive fields were sealed with).
ALTER TABLE retention.subject_keys
    ALTER COLUMN key DROP NOT NULL,
    ADD COLUMN kek_id uuid REFERENCES retention.wrapping_keys (kek_id),
    ADD COLUMN wrapped bytea CHECK (length(wrapped) = 48),
    ADD CONSTRAINT subject_keys_one_form CHECK (
        (key IS NULL) <> (wrapped IS NULL) AND (wrapped IS NULL) = (kek_id IS NULL)
    );
CREATE INDEX retention_subject_keys_clear_idx ON retention.subject_keys (subject) WHERE key IS NOT NULL;
