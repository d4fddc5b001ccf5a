-- Preferences, erasure and the newsletter's rhythm. Same tables in migrations/sqlite and migrations/postgres.

-- The date an issue goes out at, once it is ready (one of the schedule's dates, in epoch milliseconds).
ALTER TABLE newsletter_issues ADD COLUMN scheduled_at INTEGER;
CREATE INDEX newsletter_issues_due ON newsletter_issues (state, scheduled_at);

-- One row per date of the schedule that came near: each step (the reminder to staff, the check at the date)
-- is claimed by setting its column where it is still NULL, so it happens once whichever instance runs it.
CREATE TABLE newsletter_slots (
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    slot_at INTEGER NOT NULL,
    reminded_at INTEGER,
    checked_at INTEGER,
    PRIMARY KEY (list_id, slot_at)
);

-- The monthly summary sent to subscribers who chose it instead of each issue: one per list and month.
CREATE TABLE newsletter_digests (
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    period TEXT NOT NULL,
    message_id INTEGER REFERENCES mail_messages (id),
    issues INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list_id, period)
);

-- A person asked, from their preferences page, that relais forget them; staff confirm. Once done, only the
-- SHA-256 of the address stays (so staff never subscribe it again by mistake) and the address is emptied.
CREATE TABLE erasure_requests (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'refused')),
    requested_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX erasure_requests_state ON erasure_requests (state, requested_at);
CREATE INDEX erasure_requests_hash ON erasure_requests (address_hash);
