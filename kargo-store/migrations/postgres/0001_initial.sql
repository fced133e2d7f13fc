-- The same records as the SQLite store's: each one's JSON document plus
-- the columns it is looked up by.
CREATE TABLE freight (
    name TEXT PRIMARY KEY,
    alias TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    discovered_at BIGINT,
    doc TEXT NOT NULL
);
CREATE INDEX freight_by_origin ON freight (origin, discovered_at, name);

CREATE TABLE stages (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);

-- Promotions; seq orders them by creation. owner and lease_until mirror
-- the document's lease so that claims can select on them.
CREATE SEQUENCE promotion_seq;
CREATE TABLE promotions (
    seq BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    stage TEXT NOT NULL,
    freight TEXT NOT NULL,
    phase TEXT NOT NULL,
    owner TEXT,
    lease_until BIGINT,
    doc TEXT NOT NULL
);
CREATE INDEX promotions_by_stage ON promotions (stage, seq);
CREATE INDEX active_promotions ON promotions (seq) WHERE phase IN ('Pending', 'Running');
-- At most one promotion per Stage runs, whatever the replicas do.
CREATE UNIQUE INDEX one_running_promotion_per_stage ON promotions (stage) WHERE phase = 'Running';

-- Named leases (one replica at a time discovers a Warehouse).
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until BIGINT NOT NULL
);
