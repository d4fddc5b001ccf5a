-- Discussion lists: their settings, the posts they receive (held for moderation with every reason, or
-- distributed), and senders staff trust. Same tables in migrations/sqlite and migrations/postgres.
ALTER TABLE mailing_lists ADD COLUMN subject_prefix TEXT NOT NULL DEFAULT '';
-- 'list': replies go to the list; 'sender': to the author.
ALTER TABLE mailing_lists ADD COLUMN reply_to TEXT NOT NULL DEFAULT 'list';
-- 'members': members' posts go out, others are held; 'moderated': every post is held.
ALTER TABLE mailing_lists ADD COLUMN post_policy TEXT NOT NULL DEFAULT 'members';
-- Who reads the archive: 'public', 'members' or 'staff'.
ALTER TABLE mailing_lists ADD COLUMN archive TEXT NOT NULL DEFAULT 'members';
ALTER TABLE mailing_lists ADD COLUMN max_bytes INTEGER NOT NULL DEFAULT 5242880;

CREATE TABLE list_posts (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    inbound_message_id INTEGER REFERENCES inbound_messages (id),
    from_address TEXT NOT NULL,
    from_name TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    in_reply_to TEXT NOT NULL DEFAULT '',
    references_header TEXT NOT NULL DEFAULT '',
    -- held, distributed, rejected or discarded.
    state TEXT NOT NULL CHECK (state IN ('held', 'distributed', 'rejected', 'discarded')),
    -- Why it was held, one reason per line.
    reasons TEXT NOT NULL DEFAULT '',
    mail_message_id INTEGER REFERENCES mail_messages (id),
    decided_by TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    decided_at INTEGER
);
CREATE INDEX list_posts_list ON list_posts (list_id, state, created_at);

CREATE TABLE trusted_senders (
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    address TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (list_id, address)
);

-- A redistributed post keeps its author and thread: the display name and address of its From (empty: the
-- organisation's), and headers of its own (Reply-To, Cc, In-Reply-To, References, X-Original-From) as JSON
-- pairs.
ALTER TABLE mail_messages ADD COLUMN from_name TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN from_address TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN extra_headers TEXT NOT NULL DEFAULT '[]';
