-- 0007_market_hist: the market-level time-to-close histogram per day, so the dashboard's
-- distribution pages read ~10^4 rows instead of merging every venue's bins at request time.
-- Grain: metric_date, time_bucket, party_size, neighborhood, price_range, bin. It is venue_daily_hist
-- summed over the venues of each (neighborhood, price_range) as the venues table had them when the
-- day was aggregated (the convention of market_daily). Written by the nightly job together with
-- venue_daily_hist (analytics/nightly.py, analytics/sql/nightly_write.sql); backfilled here from
-- existing days.
CREATE TABLE market_daily_hist (
    metric_date   DATE NOT NULL,
    time_bucket   VARCHAR NOT NULL,
    party_size    SMALLINT NOT NULL,
    neighborhood  VARCHAR NOT NULL,        -- '(unknown)' when the venue has none
    price_range   SMALLINT,                -- 1-4; NULL when unknown
    bin           SMALLINT NOT NULL,       -- duration_bins.bin
    n_closed      BIGINT NOT NULL,
    n_censored    BIGINT NOT NULL,
    sum_s         DOUBLE NOT NULL          -- sum of closed durations in the bin
);

INSERT INTO market_daily_hist
SELECT vd.metric_date, vd.time_bucket, vd.party_size, coalesce(v.neighborhood, '(unknown)'), v.price_range, vd.bin,
       sum(vd.n_closed), sum(vd.n_censored), sum(vd.sum_s)
FROM venue_daily_hist vd
LEFT JOIN venues v ON v.provider = vd.provider AND v.venue_id = vd.venue_id
GROUP BY ALL;
