-- What each Warehouse's discovery did last (its status).
CREATE TABLE warehouses (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
