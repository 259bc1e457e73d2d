-- The secmaster schema: the market universe of every venue, its lifecycle history, the
-- transactional outbox of changes, sync bookkeeping and cross-venue links.
-- Every table is written only by ssmd.secmaster.store (and the sync staging by sync).

CREATE TABLE venues (
    venue       text PRIMARY KEY CHECK (venue ~ '^[a-z0-9_]+$'),
    name        text NOT NULL,
    asset_class text NOT NULL          -- prediction | crypto_derivatives
);
INSERT INTO venues (venue, name, asset_class) VALUES
    ('kalshi', 'Kalshi', 'prediction'),
    ('kraken_futures', 'Kraken Futures', 'crypto_derivatives'),
    ('polymarket', 'Polymarket', 'prediction');

-- Kalshi series (templates). Polymarket and Kraken have none.
CREATE TABLE series (
    venue       text NOT NULL REFERENCES venues,
    series      text NOT NULL,
    title       text,
    category    text,
    tags        text[] NOT NULL DEFAULT '{}',
    frequency   text,
    attributes  jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, series)
);

-- Kalshi events (instances of a series), Polymarket events (groups of markets).
CREATE TABLE events (
    venue       text NOT NULL REFERENCES venues,
    event       text NOT NULL,
    series      text,
    title       text,
    sub_title   text,
    category    text,
    attributes  jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, event)
);

-- One row per tradeable market: a Kalshi market, a Kraken Futures instrument, a Polymarket
-- binary market (condition id). `record` is the canonical MarketRecord as JSON (what a
-- change record publishes); the columns beside it are what lookups filter and sort by.
CREATE TABLE markets (
    market_id    text PRIMARY KEY,                    -- '<venue>:<symbol>'
    venue        text NOT NULL REFERENCES venues,
    symbol       text NOT NULL,                       -- the venue's own symbol, exactly
    kind         text NOT NULL,                       -- binary | perpetual | fixed_maturity | index | other
    status       text NOT NULL,                       -- unopened | open | paused | closed | determined | settled
    result       text,
    title        text,
    event        text,
    series       text,
    category     text,
    close_ts     timestamptz,
    record       jsonb NOT NULL,
    content_hash text NOT NULL,                       -- of `record` without version: unchanged -> no write
    version      bigint NOT NULL DEFAULT 1,           -- +1 per committed change
    listed       boolean NOT NULL DEFAULT true,       -- false once the venue stopped listing it
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    search       tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(title, '') || ' ' || symbol || ' ' || coalesce(event, '')
                              || ' ' || coalesce(series, ''))
    ) STORED,
    UNIQUE (venue, symbol)
);
CREATE INDEX markets_venue_status ON markets (venue, status, market_id);
CREATE INDEX markets_venue_series ON markets (venue, series, market_id);
CREATE INDEX markets_search ON markets USING gin (search);

-- Outcome tokens (Polymarket YES/NO token ids): token -> market.
CREATE TABLE tokens (
    token_id    text PRIMARY KEY,
    market_id   text NOT NULL REFERENCES markets ON DELETE CASCADE,
    outcome     text NOT NULL,
    is_yes      boolean NOT NULL
);
CREATE INDEX tokens_market ON tokens (market_id);

-- Every lifecycle status a market went through, and where the secmaster learnt it.
CREATE TABLE status_history (
    id          bigserial PRIMARY KEY,
    market_id   text NOT NULL REFERENCES markets ON DELETE CASCADE,
    status      text NOT NULL,
    result      text,
    source      text NOT NULL,                        -- rest | bus | manual
    venue_ts    timestamptz,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_history_market ON status_history (market_id, id);

-- The transactional outbox: one row per committed change, written in the change's
-- transaction; the relay publishes rows in id order and stamps sent_at.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    venue       text NOT NULL,
    market_id   text NOT NULL,
    change      text NOT NULL,                        -- created | updated | status | removed
    payload     bytea NOT NULL,                       -- the encoded ReferenceRecord
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Sync runs: paging state survives a crash (resume from `cursor`), and nothing of a run is
-- applied to `markets` until every page is staged.
CREATE TABLE sync_runs (
    run_id      bigserial PRIMARY KEY,
    venue       text NOT NULL REFERENCES venues,
    state       text NOT NULL,                        -- staging | applied | failed | abandoned
    cursor      text,                                 -- where paging resumes
    pages       integer NOT NULL DEFAULT 0,
    staged      integer NOT NULL DEFAULT 0,
    changes     integer,
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE UNIQUE INDEX sync_runs_one_open_per_venue ON sync_runs (venue) WHERE state = 'staging';

CREATE TABLE sync_staging (
    run_id      bigint NOT NULL REFERENCES sync_runs ON DELETE CASCADE,
    market_id   text NOT NULL,
    record      jsonb NOT NULL,
    PRIMARY KEY (run_id, market_id)
);

-- Cross-venue links (the same real-world outcome on two venues), versioned: a change
-- supersedes the current row and inserts a new one with version + 1.
CREATE TABLE links (
    id          bigserial PRIMARY KEY,
    left_id     text NOT NULL REFERENCES markets,
    right_id    text NOT NULL REFERENCES markets,
    state       text NOT NULL,                        -- proposed | accepted | rejected
    origin      text NOT NULL,                        -- manual | matcher
    score       double precision,
    rule        text,
    note        text,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    superseded_at timestamptz,
    CHECK (left_id < right_id)
);
CREATE UNIQUE INDEX links_current ON links (left_id, right_id) WHERE superseded_at IS NULL;
CREATE INDEX links_by_right ON links (right_id) WHERE superseded_at IS NULL;
