-- The outbox: every mail relais sends is a message (rendered once) and one delivery per recipient, written in
-- the transaction of the action that caused it. Workers claim due deliveries with a lease and record each
-- attempt's SMTP reply on the delivery itself.
-- Same tables in migrations/sqlite and migrations/postgres.
CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    cause_kind TEXT NOT NULL DEFAULT '',
    cause_id INTEGER,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    template_data TEXT NOT NULL DEFAULT '{}',
    auto_submitted BOOLEAN NOT NULL DEFAULT TRUE,
    -- For list and newsletter mail: the subscription a recipient can leave (empty for other mail), its name,
    -- and the List-Post value ('NO' on announce-only lists).
    list_key TEXT NOT NULL DEFAULT '',
    list_label TEXT NOT NULL DEFAULT '',
    list_post TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX mail_messages_created ON mail_messages (created_at);
CREATE INDEX mail_messages_cause ON mail_messages (cause_kind, cause_id);

CREATE TABLE mail_deliveries (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES mail_messages (id),
    recipient TEXT NOT NULL,
    recipient_name TEXT NOT NULL DEFAULT '',
    person_id INTEGER REFERENCES people (id),
    token TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    leased_by TEXT,
    last_reply TEXT NOT NULL DEFAULT '',
    sent_at INTEGER,
    finished_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX mail_deliveries_due ON mail_deliveries (state, next_attempt_at);
CREATE INDEX mail_deliveries_message ON mail_deliveries (message_id, state);
CREATE INDEX mail_deliveries_recipient ON mail_deliveries (recipient);

-- Who left which list or newsletter, when, and how (one-click from a mail client, the page, a mail).
CREATE TABLE unsubscribes (
    id INTEGER PRIMARY KEY,
    list_key TEXT NOT NULL,
    address TEXT NOT NULL,
    delivery_id INTEGER REFERENCES mail_deliveries (id),
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (list_key, address)
);

-- Secrets relais makes for itself at first start (the key that signs unsubscribe links), shared by every
-- instance on the database.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The daily follow-up digest goes out once per person and day, whichever instance runs the schedule.
CREATE TABLE digest_days (
    user_id INTEGER NOT NULL REFERENCES users (id),
    day TEXT NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- Refusals of a recipient's address: during the SMTP exchange (source 'smtp') or, later, in a delivery status
-- notification ('dsn'). Policy rejections (5.7.x) are kept but not counted against the recipient.
CREATE TABLE bounces (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    delivery_id INTEGER REFERENCES mail_deliveries (id),
    source TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    reply TEXT NOT NULL,
    counted BOOLEAN NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX bounces_address ON bounces (address, created_at);
