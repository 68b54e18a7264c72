-- Admission's lookup (shared.scoring.lookup) as a function, for its plan (issue 29), as migration 0710 did
-- for the feature queries: sent as text it cost PostgreSQL 0.12 to 0.19 ms of CPU a scoring request
-- (SELECT 1: 0.02), most of it parsing and planning. One row: the stored prediction of this transaction
-- (idempotency; the columns a replay answers with, shared.scoring.predictions.PREDICTION_COLUMNS, which a
-- test holds equal), and whatever the cache missed: the wallet's user, the live blocklist verdicts for the
-- wallet and for the IP (a network entry covers its addresses). A check not asked for is NULL.
CREATE OR REPLACE FUNCTION intel.admission_lookup(
    p_txn            text,
    p_wallet         text,
    p_ip             inet,
    p_need_user      boolean,
    p_need_wallet_bl boolean,
    p_need_ip_bl     boolean
) RETURNS TABLE (
    existing       json,
    user_id        bigint,
    wallet_blocked boolean,
    ip_blocked     boolean
)
-- The result columns share names with the tables' (user_id): in the query they mean the columns.
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT
        (SELECT row_to_json(p) FROM (
             SELECT transaction_id, wallet_address, ticket_id, price_paid, fraud_score, decision, confidence,
                    top_features, model_version, reason, degraded, created_at
               FROM intel.fraud_predictions WHERE transaction_id = p_txn) p),
        CASE WHEN p_need_user THEN (SELECT w.user_id FROM intel.wallets w WHERE w.address = p_wallet) END,
        CASE WHEN p_need_wallet_bl THEN EXISTS (
            SELECT 1 FROM intel.blocklist b
             WHERE b.kind = 'wallet' AND b.value = p_wallet AND (b.expires_at IS NULL OR b.expires_at > now())) END,
        CASE WHEN p_need_ip_bl THEN EXISTS (
            SELECT 1 FROM intel.blocklist b
             WHERE b.kind = 'ip' AND b.value::cidr >>= p_ip AND (b.expires_at IS NULL OR b.expires_at > now())) END;
END
$fn$;
