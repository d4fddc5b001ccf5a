-- Newsletter issues and the items staff collect for them. An issue is sent once: the statement that moves
-- it from 'ready' to 'sent' is the one that enqueues its mail, in the same transaction.
-- Same tables in migrations/sqlite and migrations/postgres.
CREATE TABLE newsletter_issues (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    title TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'ready', 'sent')),
    sent_at INTEGER,
    message_id INTEGER REFERENCES mail_messages (id),
    recipients INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX newsletter_issues_list ON newsletter_issues (list_id, state, sent_at);

CREATE TABLE newsletter_items (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL
        CHECK (category IN ('legal', 'figures', 'practice', 'meeting', 'resource', 'other')),
    title TEXT NOT NULL,
    -- Markdown, links included.
    body TEXT NOT NULL DEFAULT '',
    issue_id INTEGER REFERENCES newsletter_issues (id),
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX newsletter_items_issue ON newsletter_items (issue_id);
