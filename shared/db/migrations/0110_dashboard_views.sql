-- Dashboard materialized views (spec 2.3). Each has a unique index so that
-- `REFRESH MATERIALIZED VIEW CONCURRENTLY` works while readers read (shared.kpis.views).

-- View 1: hourly KPIs of the last 7 days, as in the spec, plus the fees (revenue per hour).
CREATE MATERIALIZED VIEW intel.kpi_hourly AS
SELECT
    date_trunc('hour', t.occurred_at)                                  AS hour,
    count(DISTINCT t.transaction_id)                                   AS total_transactions,
    sum(t.price_paid)                                                  AS total_revenue,
    coalesce(sum(t.fee) FILTER (WHERE t.status = 'completed'), 0)      AS total_fees,
    avg(fp.fraud_score)                                                AS avg_fraud_score,
    count(*) FILTER (WHERE fp.decision = 'BLOCKED')                    AS blocked_count,
    count(*) FILTER (WHERE fp.decision IS NOT NULL AND fp.decision <> 'APPROVED') AS flagged_count
FROM intel.transactions t
LEFT JOIN intel.fraud_predictions fp ON fp.transaction_id = t.transaction_id
WHERE t.occurred_at > now() - interval '7 days'
GROUP BY 1
WITH DATA;
CREATE UNIQUE INDEX kpi_hourly_hour_uidx ON intel.kpi_hourly (hour);

-- View 2: per event: tickets sold, floor price (cheapest listing still open on chain), resales.
CREATE MATERIALIZED VIEW intel.event_analytics AS
WITH last_listing AS (
    SELECT DISTINCT ON (token_id) token_id, price_wei, block_number, log_index
    FROM intel.chain_events
    WHERE event_name = 'Listed'
    ORDER BY token_id, block_number DESC, log_index DESC
), open_listing AS (
    -- a listing is closed by a later Delisted, Resale or Transfer of the same token
    SELECT l.token_id, l.price_wei
    FROM last_listing l
    WHERE NOT EXISTS (
        SELECT 1 FROM intel.chain_events c
        WHERE c.token_id = l.token_id
          AND c.event_name IN ('Delisted', 'Resale', 'Transfer')
          AND (c.block_number, c.log_index) > (l.block_number, l.log_index))
), floor_by_event AS (
    SELECT tk.event_id, min(o.price_wei) / 1e15 AS floor_price, count(*) AS open_listings
    FROM open_listing o
    JOIN intel.tickets tk ON tk.ticket_id = o.token_id
    GROUP BY tk.event_id
), sales AS (
    SELECT event_id,
           count(DISTINCT ticket_id) FILTER (WHERE kind = 'primary')  AS tickets_sold,
           count(*) FILTER (WHERE kind = 'resale')                   AS resale_count,
           coalesce(sum(price_paid) FILTER (WHERE kind = 'primary'), 0) AS primary_revenue,
           avg(price_paid) FILTER (WHERE kind = 'resale')            AS avg_resale_price,
           max(occurred_at)                                           AS last_sale_at
    FROM intel.transactions
    GROUP BY event_id
)
SELECT e.event_id, e.name, e.category, e.capacity, e.starts_at,
       coalesce(s.tickets_sold, 0)              AS tickets_sold,
       coalesce(s.tickets_sold, 0)::double precision / e.capacity AS sell_through,
       coalesce(s.resale_count, 0)              AS resale_count,
       coalesce(s.primary_revenue, 0)           AS primary_revenue,
       s.avg_resale_price,
       f.floor_price::numeric(12, 2)            AS floor_price,
       coalesce(f.open_listings, 0)             AS open_listings,
       s.last_sale_at
FROM intel.events e
LEFT JOIN sales s ON s.event_id = e.event_id
LEFT JOIN floor_by_event f ON f.event_id = e.event_id
WITH DATA;
CREATE UNIQUE INDEX event_analytics_event_uidx ON intel.event_analytics (event_id);

-- View 3: user segments, evaluated at refresh time, first matching rule wins:
--   VIP      >= 10 purchases or >= 1000 USD spent in the last 90 days
--   New      account created in the last 30 days
--   Regular  >= 3 purchases in the last 90 days
--   Casual   everyone else (including users with no purchase)
CREATE MATERIALIZED VIEW intel.user_segments AS
WITH activity AS (
    SELECT user_id,
           count(*)                   AS purchases_90d,
           sum(price_paid)            AS spend_90d,
           count(DISTINCT event_id)   AS events_90d,
           max(occurred_at)           AS last_purchase_at
    FROM intel.transactions
    WHERE occurred_at > now() - interval '90 days'
    GROUP BY user_id
)
SELECT u.user_id, u.country, u.created_at,
       coalesce(a.purchases_90d, 0) AS purchases_90d,
       coalesce(a.spend_90d, 0)     AS spend_90d,
       coalesce(a.events_90d, 0)    AS events_90d,
       a.last_purchase_at,
       CASE
           WHEN coalesce(a.purchases_90d, 0) >= 10 OR coalesce(a.spend_90d, 0) >= 1000 THEN 'VIP'
           WHEN u.created_at > now() - interval '30 days' THEN 'New'
           WHEN coalesce(a.purchases_90d, 0) >= 3 THEN 'Regular'
           ELSE 'Casual'
       END AS segment
FROM intel.users u
LEFT JOIN activity a ON a.user_id = u.user_id
WITH DATA;
CREATE UNIQUE INDEX user_segments_user_uidx ON intel.user_segments (user_id);
CREATE INDEX user_segments_segment_idx ON intel.user_segments (segment);
