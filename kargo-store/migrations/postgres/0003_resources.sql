-- Kargo resources posted to an API (`/v1beta1/resources`), kept beside
-- the manifest files so that every replica loads the same project.
-- Byte order ("C") so that every store lists them in the same order.
CREATE TABLE resources (
    kind TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
