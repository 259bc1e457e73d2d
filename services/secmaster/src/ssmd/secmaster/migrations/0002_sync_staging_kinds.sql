-- Staged syncs hold more than markets: a Kalshi sync stages its series and events beside
-- the markets (each page of each in its own transaction, like the markets), so the staging
-- key becomes (run, kind, key). A run also counts the venue rows it skipped (Polymarket
-- markets without a binary token pair, rows that did not parse), for diagnosis.
ALTER TABLE sync_staging ADD COLUMN kind text NOT NULL DEFAULT 'market';  -- market | series | event
ALTER TABLE sync_staging RENAME COLUMN market_id TO key;                   -- market id, series or event ticker
ALTER TABLE sync_staging DROP CONSTRAINT sync_staging_pkey;
ALTER TABLE sync_staging ADD PRIMARY KEY (run_id, kind, key);
ALTER TABLE sync_staging ALTER COLUMN kind DROP DEFAULT;

ALTER TABLE sync_runs ADD COLUMN skipped integer NOT NULL DEFAULT 0;
