-- The notes read model (the user's own table; the store adds its event log).
-- A no-pad binary collation keeps keys exact, as MemoryDatabase does.
CREATE TABLE notes (
    id VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    title TEXT COLLATE utf8mb4_bin NOT NULL,
    text TEXT COLLATE utf8mb4_bin NOT NULL,
    author VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    created VARCHAR(40) NOT NULL,
    updated VARCHAR(40) NOT NULL
);
