-- The notes read model (the user's own table; the store adds its event log).
CREATE TABLE notes (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
