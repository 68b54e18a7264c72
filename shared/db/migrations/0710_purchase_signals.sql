-- The scoring path's two feature queries as functions, for their plans (issue 29): the purchase signals
-- (shared.features.signals, issue 23) and a feature-cache miss's facts (shared.features.postgres_store).
-- Sent as text, the signals' query cost PostgreSQL about 1.1 ms of CPU per scoring request, most of it parsing and
-- planning the same recursive CTE again each time: the request path cannot keep a prepared statement
-- (PgBouncer in transaction mode drops it; RDS Proxy pins the client's session for one). A PL/pgSQL
-- function's statements are prepared once per server connection and their plans cached there (generic
-- once PostgreSQL finds them no worse than the custom ones), which survives any pooler: measured 0.2 ms.
-- Scoring and the training-set builder both call the signals' one, so the two still cannot disagree on a
-- formula. The windows stay in shared.features.formulas and arrive as arguments. To change a query, add a
-- migration with CREATE OR REPLACE FUNCTION (its result columns unchanged, or DROP FUNCTION first).
CREATE OR REPLACE FUNCTION intel.purchase_signals(
    p_wallet      text,
    p_ticket      bigint,
    p_ticket_text text,
    p_at          timestamptz,
    p_fingerprint text,
    p_ip          inet,
    p_recent      interval,
    p_history     interval,
    p_ring        interval,
    p_max_hops    integer,
    p_pay         interval,
    p_shared      interval,
    p_logins      interval
) RETURNS TABLE (
    user_id       bigint,
    registered_at timestamptz,
    instruments   bigint,
    shared        bigint,
    failed        bigint,
    has_history   boolean,
    device_seen   boolean,
    ip_seen       boolean,
    hops          integer,
    country       char(2)
)
-- The result columns share names with the tables' (user_id, country): in the query they mean the columns.
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH RECURSIVE acct AS (
        SELECT w.user_id, u.created_at, u.country
          FROM marketplace.wallets w JOIN marketplace.users u ON u.user_id = w.user_id
         WHERE w.address = p_wallet
    ), tid AS (
        SELECT coalesce(p_ticket,
                        (SELECT internal_id FROM ingest.external_ids
                          WHERE kind = 'ticket' AND external_id = p_ticket_text)) AS id
    ), seller AS (
        SELECT buyer_wallet AS address FROM marketplace.orders
         WHERE ticket_id = (SELECT id FROM tid) AND created_at < p_at AND status <> 'failed'
         ORDER BY created_at DESC, order_id DESC LIMIT 1
    ), recent AS (
        SELECT user_agent FROM marketplace.sessions
         WHERE user_id = (SELECT user_id FROM acct)
           AND started_at >= p_at - p_recent AND started_at < p_at
         ORDER BY started_at DESC, session_id DESC LIMIT 1
    ), history AS (
        SELECT ip, user_agent FROM marketplace.sessions
         WHERE user_id = (SELECT user_id FROM acct)
           AND started_at >= p_at - p_recent - p_history AND started_at < p_at - p_recent
    ), walk(address, depth) AS (
        -- who the buyer sold to, and they to whom, ...: a path back to the seller closes a cycle
        SELECT p_wallet, 0
        UNION
        SELECT o.buyer_wallet, walk.depth + 1
          FROM walk JOIN marketplace.orders o ON o.seller_wallet = walk.address
         WHERE walk.depth < p_max_hops AND o.status <> 'failed'
           AND o.created_at >= p_at - p_ring AND o.created_at < p_at
           AND EXISTS (SELECT 1 FROM seller)
    )
    SELECT
        (SELECT user_id FROM acct),
        (SELECT created_at FROM acct),
        (SELECT count(*) FROM (
            SELECT payment_instrument FROM marketplace.orders
             WHERE buyer_wallet = p_wallet AND created_at >= p_at - p_pay AND created_at < p_at
            UNION
            SELECT p_fingerprint WHERE p_fingerprint IS NOT NULL) instruments),
        CASE WHEN p_fingerprint IS NOT NULL THEN
            (SELECT count(DISTINCT buyer_wallet) FROM marketplace.orders
              WHERE payment_instrument = p_fingerprint AND buyer_wallet <> p_wallet
                AND created_at >= p_at - p_shared AND created_at < p_at) END,
        (SELECT count(*) FROM marketplace.login_attempts
          WHERE user_id = (SELECT user_id FROM acct) AND NOT success
            AND attempted_at >= p_at - p_logins AND attempted_at < p_at),
        EXISTS (SELECT 1 FROM history),
        CASE WHEN EXISTS (SELECT 1 FROM recent) THEN
            EXISTS (SELECT 1 FROM history WHERE user_agent = (SELECT user_agent FROM recent)) END,
        CASE WHEN p_ip IS NOT NULL THEN EXISTS (SELECT 1 FROM history WHERE ip = p_ip) END,
        (SELECT min(depth) FROM walk WHERE depth > 0 AND address = (SELECT address FROM seller)),
        (SELECT country FROM acct);
END
$fn$;

-- A feature-cache miss's facts of one purchase (shared.features.postgres_store): always one row.
CREATE OR REPLACE FUNCTION intel.purchase_facts(
    p_ticket      bigint,
    p_ticket_text text,
    p_wallet      text,
    p_at          timestamptz,
    p_day         date,
    p_w1          interval
) RETURNS TABLE (
    event_id                 bigint,
    minted_at                timestamptz,
    face_value               double precision,
    popularity               double precision,
    ref_price_7d             double precision,
    user_id                  bigint,
    first_seen_at            timestamptz,
    avg_ticket_hold_time     double precision,
    cross_event_attendance   integer,
    payment_method_diversity integer,
    pagerank                 double precision,
    recent_purchases         text[],
    velocity                 bigint,
    geo_lat                  double precision,
    geo_lon                  double precision,
    located_at               timestamptz
)
-- As above: names shared with the tables' columns mean the columns.
LANGUAGE plpgsql STABLE AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH tid AS (
        -- an integer ticket id is the row's; a text id, the integer ingest gave it (ingest.external_ids)
        SELECT coalesce(p_ticket,
                        (SELECT internal_id FROM ingest.external_ids
                          WHERE kind = 'ticket' AND external_id = p_ticket_text)) AS id
    ), tk AS (
        SELECT * FROM (
            SELECT ticket_id, event_id, minted_at, 0 AS preference FROM intel.tickets
             WHERE ticket_id = (SELECT id FROM tid)
            UNION ALL
            SELECT ticket_id, event_id, minted_at, 1 FROM marketplace.tickets WHERE ticket_id = (SELECT id FROM tid)
        ) candidates ORDER BY preference LIMIT 1
    ), wl AS (
        -- the wallet's account; the backend's own table for a wallet the ETL has not loaded yet
        SELECT user_id FROM (
            SELECT user_id, 0 AS preference FROM intel.wallets WHERE address = p_wallet AND user_id IS NOT NULL
            UNION ALL
            SELECT user_id, 1 FROM marketplace.wallets WHERE address = p_wallet
        ) candidates ORDER BY preference LIMIT 1
    ), snapshot AS (
        SELECT max(snapshot_day) AS day FROM intel.centrality_snapshots WHERE snapshot_day <= p_day
    )
    SELECT tk.event_id, tk.minted_at,
           coalesce((SELECT face_value FROM intel.events WHERE event_id = tk.event_id),
                    (SELECT face_value FROM marketplace.events WHERE event_id = tk.event_id))::float8,
           CASE WHEN tk.event_id IS NULL THEN NULL ELSE coalesce(ef.event_popularity_score, 0.0) END,
           ef.ref_price_7d,
           wl.user_id,
           least(wf.first_seen_at, (SELECT min(f.occurred_at) FROM intel.transactions f
                                     WHERE f.wallet_address = p_wallet AND f.occurred_at < p_at),
                 -- the wallet's registration: the backend's own record (wallet.linked through ingest)
                 (SELECT created_at FROM marketplace.wallets WHERE address = p_wallet AND created_at < p_at)),
           wf.avg_ticket_hold_time,
           coalesce(wf.cross_event_attendance, 0),
           CASE WHEN wl.user_id IS NULL THEN NULL ELSE coalesce(uf.payment_method_diversity, 0) END,
           CASE WHEN snapshot.day IS NULL THEN NULL
                ELSE coalesce((SELECT pagerank FROM intel.wallet_centrality
                               WHERE address = p_wallet AND snapshot_day = snapshot.day), 0.0) END,
           (SELECT array_agg(v.ticket_id::text || ':' || floor(extract(epoch FROM v.occurred_at) * 1000)::bigint::text)
              FROM intel.transactions v
             WHERE v.wallet_address = p_wallet AND v.occurred_at > p_at - p_w1 AND v.occurred_at < p_at),
           (SELECT count(*) FROM intel.transactions v
             WHERE v.wallet_address = p_wallet AND v.occurred_at > p_at - p_w1 AND v.occurred_at < p_at),
           pl.geo_lat, pl.geo_lon, pl.occurred_at
    FROM snapshot
    LEFT JOIN tk ON true  -- an unknown ticket: the purchase is scored without its ticket's features
    LEFT JOIN wl ON true
    LEFT JOIN intel.event_features ef ON ef.event_id = tk.event_id
    LEFT JOIN intel.wallet_features wf ON wf.address = p_wallet
    LEFT JOIN intel.user_features uf ON uf.user_id = wl.user_id
    LEFT JOIN LATERAL (
        SELECT geo_lat, geo_lon, occurred_at FROM intel.transactions
        WHERE user_id = wl.user_id AND occurred_at < p_at AND geo_lat IS NOT NULL
        ORDER BY occurred_at DESC LIMIT 1) pl ON true;
END
$fn$;
