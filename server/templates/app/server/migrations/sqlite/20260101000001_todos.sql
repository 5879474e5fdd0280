-- The todos read model (your table; the store adds its event log).
CREATE TABLE todos (
    id TEXT NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    done BOOLEAN NOT NULL
);
