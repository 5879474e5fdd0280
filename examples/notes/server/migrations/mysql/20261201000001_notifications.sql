-- Notifications: someone else changed your note (the Activity saga's `notes/notify`).
CREATE TABLE notifications (
    id VARCHAR(64) COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    recipient VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    note VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    actor VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    action VARCHAR(16) NOT NULL,
    at VARCHAR(40) NOT NULL
);
