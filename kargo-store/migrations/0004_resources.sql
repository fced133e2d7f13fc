-- Kargo resources posted to an API (`/v1beta1/resources`), kept beside
-- the manifest files so that every process loads the same project.
CREATE TABLE resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
