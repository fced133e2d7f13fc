-- Freight: the whole document as JSON, plus the columns it is looked up by.
CREATE TABLE freight (
    name TEXT PRIMARY KEY NOT NULL,
    alias TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    discovered_at INTEGER,
    doc TEXT NOT NULL
);
CREATE INDEX freight_by_origin ON freight (origin, discovered_at, name);

-- Stage state (Freight history, verifications, holds) as JSON.
CREATE TABLE stages (
    name TEXT PRIMARY KEY NOT NULL,
    doc TEXT NOT NULL
);

-- Promotions; seq orders them by creation.
CREATE TABLE promotions (
    seq INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    stage TEXT NOT NULL,
    freight TEXT NOT NULL,
    phase TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX promotions_by_stage ON promotions (stage, seq);
-- At most one promotion per Stage runs, whatever the code above does.
CREATE UNIQUE INDEX one_running_promotion_per_stage ON promotions (stage) WHERE phase = 'Running';
