-- Federation (issue 17): the partners relais may exchange with (the allow-list) and who follows whom, the
-- actors of theirs it has seen, every activity received (its id de-duplicates replays), every delivery to
-- a partner's inbox (a durable outbox like mail_deliveries), the objects relais published (so a removed one
-- answers 410 with a Tombstone), what partners published, the membership facts they shared, and the
-- public and consent flags staff set. Same tables in migrations/sqlite and migrations/postgres.

-- A partner is a host (host[:port], lower case). Nothing is accepted from or sent to a host whose row is
-- missing or not `allowed`.
CREATE TABLE federation_partners (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    -- The partner's network actor (a Group, or an Application) and where activities for it are posted.
    actor_url TEXT NOT NULL DEFAULT '',
    inbox_url TEXT NOT NULL DEFAULT '',
    allowed BOOLEAN NOT NULL DEFAULT TRUE,
    -- Whether relais' Group follows the partner, and the id of its Follow.
    our_follow TEXT NOT NULL DEFAULT 'none' CHECK (our_follow IN ('none', 'requested', 'accepted', 'rejected')),
    our_follow_id TEXT NOT NULL DEFAULT '',
    -- Whether the partner follows relais' Group: a request waits for staff unless relais follows it too.
    their_follow TEXT NOT NULL DEFAULT 'none' CHECK (their_follow IN ('none', 'pending', 'accepted', 'refused')),
    their_follow_id TEXT NOT NULL DEFAULT '',
    their_follow_actor TEXT NOT NULL DEFAULT '',
    their_follow_body TEXT NOT NULL DEFAULT '',
    last_received_at INTEGER,
    created_at INTEGER NOT NULL
);

-- Actors of partners, as last fetched: their public key checks the signatures of what they send.
CREATE TABLE federation_actors (
    id INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    url TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    inbox_url TEXT NOT NULL DEFAULT '',
    shared_inbox_url TEXT NOT NULL DEFAULT '',
    key_id TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    fetched_at INTEGER NOT NULL
);
CREATE INDEX federation_actors_key ON federation_actors (key_id);

-- Every activity accepted at the inbox; a second POST of the same id changes nothing.
CREATE TABLE federation_received (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    actor_url TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- What it did, in French, for the Réseaux page.
    summary TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL
);
CREATE INDEX federation_received_partner ON federation_received (partner_id, received_at);

-- One activity to one inbox: claimed under a lease, retried with back-off, its outcome kept.
CREATE TABLE federation_deliveries (
    id INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    activity_id TEXT NOT NULL,
    -- What it carries, in French ("Réunion publiée : …"), for staff.
    label TEXT NOT NULL DEFAULT '',
    inbox_url TEXT NOT NULL,
    -- Which of relais' actors signs it: 'group' or 'application'.
    signer TEXT NOT NULL DEFAULT 'group' CHECK (signer IN ('group', 'application')),
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'refused', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    done_at INTEGER,
    UNIQUE (activity_id, inbox_url)
);
CREATE INDEX federation_deliveries_due ON federation_deliveries (state, next_attempt_at);
CREATE INDEX federation_deliveries_partner ON federation_deliveries (partner_id, created_at);

-- What relais published: a public meeting (event), a newsletter issue (article) or a sheet (document).
-- The uuid names it in URLs; once withdrawn, its URL answers 410 Gone with a Tombstone.
CREATE TABLE federation_objects (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'article', 'document')),
    source_id INTEGER NOT NULL,
    -- A hash of the JSON last sent: an Update goes out only when it changes.
    sent_hash TEXT NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    withdrawn_at INTEGER,
    UNIQUE (kind, source_id)
);

-- What partners published: events, articles and documents, as plain text (their HTML is never shown).
CREATE TABLE federation_remote_objects (
    id INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    object_url TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'article', 'document')),
    attributed_to TEXT NOT NULL,
    name TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    content TEXT NOT NULL DEFAULT '',
    page_url TEXT NOT NULL DEFAULT '',
    starts_at INTEGER,
    ends_at INTEGER,
    time_zone TEXT NOT NULL DEFAULT '',
    online_url TEXT NOT NULL DEFAULT '',
    cancelled BOOLEAN NOT NULL DEFAULT FALSE,
    attachment_url TEXT NOT NULL DEFAULT '',
    attachment_name TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    -- When staff relayed it by mail (events) or offered it to the newsletter (articles, documents).
    relayed_at INTEGER,
    -- relais' own Join to a partner event: its id, and whether the partner accepted it.
    join_id TEXT NOT NULL DEFAULT '',
    join_state TEXT NOT NULL DEFAULT '' CHECK (join_state IN ('', 'pending', 'accepted', 'rejected', 'left')),
    join_message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX federation_remote_objects_time ON federation_remote_objects (kind, starts_at);

-- Participants from partner networks in one of relais' public meetings (a Join, then maybe a Leave).
CREATE TABLE meeting_remote_participants (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    join_id TEXT NOT NULL UNIQUE,
    actor_url TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'accepted' CHECK (state IN ('accepted', 'rejected', 'left')),
    responded_at INTEGER NOT NULL
);
CREATE INDEX meeting_remote_participants_meeting ON meeting_remote_participants (meeting_id);

-- Membership facts partners publish: a collectivity (by its official code) member of their network.
CREATE TABLE federation_remote_memberships (
    partner_id INTEGER NOT NULL REFERENCES federation_partners (id),
    item_url TEXT NOT NULL,
    network_name TEXT NOT NULL,
    official_code TEXT NOT NULL DEFAULT '',
    code_scheme TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    since TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    PRIMARY KEY (partner_id, item_url)
);
CREATE INDEX federation_remote_memberships_code ON federation_remote_memberships (official_code);

-- What staff mark public (default off), and the members that agreed to be named to partners.
ALTER TABLE meetings ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE newsletter_issues ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE resources ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE memberships ADD COLUMN federation_consent BOOLEAN NOT NULL DEFAULT FALSE;
