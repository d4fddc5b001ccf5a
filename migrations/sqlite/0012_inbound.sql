-- Mail relais receives (LMTP, SMTP or `relais inject`): the raw message, committed before the final reply,
-- and what became of it for each recipient. Same tables in migrations/sqlite and migrations/postgres.
CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    -- lmtp, smtp or inject.
    channel TEXT NOT NULL,
    peer TEXT NOT NULL DEFAULT '',
    envelope_from TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    from_address TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,
    raw BLOB NOT NULL
);
CREATE INDEX inbound_messages_received ON inbound_messages (received_at);

-- One row per accepted recipient. `state`: received (not routed yet), routing (claimed by a router until
-- `claimed_until`), done, held, refused or failed; `outcome` says what happened, for staff.
CREATE TABLE inbound_recipients (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES inbound_messages (id),
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'routing', 'done', 'held', 'refused', 'failed')),
    claimed_until INTEGER,
    outcome TEXT NOT NULL DEFAULT '',
    processed_at INTEGER
);
CREATE INDEX inbound_recipients_state ON inbound_recipients (state, id);
CREATE INDEX inbound_recipients_message ON inbound_recipients (message_id);
