-- The todos read model (your table; the store adds its event log).
-- COLLATE "C": keys compare byte by byte, as in MemoryDatabase and the browser.
CREATE TABLE todos (
    id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    done BOOLEAN NOT NULL
);
