-- Lists people subscribe to (the newsletter now; discussion lists come with inbound mail, on the same
-- model) and subscriptions, each with the consent that made it: when, from where, on which legal basis and
-- after which wording. Same tables in migrations/sqlite and migrations/postgres.
CREATE TABLE mailing_lists (
    id INTEGER PRIMARY KEY,
    list_key TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('announce', 'discussion')),
    created_at INTEGER NOT NULL
);

INSERT INTO mailing_lists (list_key, name, description, kind, created_at) VALUES
    ('lettre', 'Lettre du club',
     'Deux fois par mois : actualité juridique, chiffres clés, bonnes pratiques et rendez-vous du Club des collectivités engagées.',
     'announce', 0);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL REFERENCES mailing_lists (id),
    -- Lowercase: one subscription per list and address.
    address TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    person_id INTEGER REFERENCES people (id),
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'unsubscribed', 'bouncing', 'disabled')),
    mode TEXT NOT NULL DEFAULT 'each' CHECK (mode IN ('each', 'digest')),
    -- The consent: given when (NULL while pending), from where (public_form, staff, import, onboarding),
    -- on which legal basis (consent, legitimate_interest) and after which wording of the form.
    consent_at INTEGER,
    consent_source TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    wording_version TEXT NOT NULL DEFAULT '',
    -- Double opt-in: the SHA-256 of the link's token (never the token) and when the link expires.
    confirm_token_hash TEXT UNIQUE,
    confirm_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (list_id, address)
);
CREATE INDEX subscriptions_list_state ON subscriptions (list_id, state);
