-- The read model of the issue tracker: the user's own tables, made by the
-- user's own migrations. The store adds only its event log (flux_events).
CREATE TABLE users (
    handle TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE issues (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    author TEXT NOT NULL,
    priority INTEGER,
    closed BOOLEAN NOT NULL DEFAULT FALSE
);
