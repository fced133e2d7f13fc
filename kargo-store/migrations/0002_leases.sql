-- Named leases (one replica at a time discovers a Warehouse).
CREATE TABLE leases (
    key TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL
);
