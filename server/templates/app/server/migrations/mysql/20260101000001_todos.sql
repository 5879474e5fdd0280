-- The todos read model (your table; the store adds its event log).
-- A no-pad binary collation keeps keys exact, as MemoryDatabase does.
CREATE TABLE todos (
    id VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    title TEXT COLLATE utf8mb4_bin NOT NULL,
    done BOOLEAN NOT NULL
);
