-- Notifications: someone else changed your note (the Activity saga's `notes/notify`).
CREATE TABLE notifications (
    id TEXT NOT NULL PRIMARY KEY,
    recipient TEXT NOT NULL,
    note TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL
);
