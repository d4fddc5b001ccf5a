-- Foundation: accounts, sessions, audit, organisations, people, the outreach pipeline, memberships.
-- Timestamps are epoch milliseconds (BIGINT); calendar dates are ISO text (sqlx binds NaiveDate as TEXT here).
-- Keep in step with migrations/postgres/0001_foundation.sql: same tables, same columns.

CREATE TABLE organisations (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('collectivity', 'association', 'partner')),
    name TEXT NOT NULL,
    collectivity_kind TEXT,
    official_code TEXT,
    departement_code TEXT,
    region_code TEXT,
    population BIGINT,
    scale TEXT,
    website TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    search_text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (collectivity_kind, official_code)
);
CREATE INDEX organisations_departement ON organisations (departement_code);
CREATE INDEX organisations_kind_name ON organisations (kind, name);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer', 'relay')),
    password_hash TEXT NOT NULL,
    association_id BIGINT REFERENCES organisations (id),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE user_territories (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    departement_code TEXT NOT NULL,
    PRIMARY KEY (user_id, departement_code)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, failed_at);
CREATE INDEX login_failures_address ON login_failures (address, failed_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id BIGINT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);

CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    organisation_id BIGINT REFERENCES organisations (id),
    full_name TEXT NOT NULL,
    function TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    search_text TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX people_organisation ON people (organisation_id);

CREATE TABLE person_emails (
    person_id BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    PRIMARY KEY (person_id, email)
);
CREATE INDEX person_emails_email ON person_emails (email);

CREATE TABLE person_phones (
    person_id BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    phone TEXT NOT NULL,
    PRIMARY KEY (person_id, phone)
);

CREATE TABLE targets (
    id INTEGER PRIMARY KEY,
    organisation_id BIGINT NOT NULL UNIQUE REFERENCES organisations (id),
    stage TEXT NOT NULL,
    declined_reason TEXT NOT NULL DEFAULT '',
    on_hold_until TEXT,
    owner_id BIGINT REFERENCES users (id),
    political_colour TEXT NOT NULL DEFAULT 'unknown',
    lead_source TEXT NOT NULL DEFAULT 'other',
    priority TEXT NOT NULL DEFAULT 'normal',
    next_action TEXT NOT NULL DEFAULT '',
    next_action_date TEXT,
    has_squats BOOLEAN NOT NULL DEFAULT FALSE,
    notes TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX targets_stage ON targets (stage);
CREATE INDEX targets_owner_next ON targets (owner_id, next_action_date);
CREATE INDEX targets_next ON targets (next_action_date);

CREATE TABLE stage_changes (
    id INTEGER PRIMARY KEY,
    target_id BIGINT NOT NULL REFERENCES targets (id),
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    changed_at BIGINT NOT NULL,
    author_id BIGINT REFERENCES users (id),
    author_label TEXT NOT NULL
);
CREATE INDEX stage_changes_target ON stage_changes (target_id, changed_at);
CREATE INDEX stage_changes_at ON stage_changes (changed_at);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    target_id BIGINT NOT NULL REFERENCES targets (id),
    kind TEXT NOT NULL,
    occurred_on TEXT NOT NULL,
    author_id BIGINT REFERENCES users (id),
    author_label TEXT NOT NULL,
    summary TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX interactions_target ON interactions (target_id, occurred_on);
CREATE INDEX interactions_created ON interactions (created_at);

CREATE TABLE interaction_people (
    interaction_id BIGINT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people (id),
    PRIMARY KEY (interaction_id, person_id)
);
CREATE INDEX interaction_people_person ON interaction_people (person_id);

CREATE TABLE local_needs (
    id INTEGER PRIMARY KEY,
    target_id BIGINT NOT NULL REFERENCES targets (id),
    description TEXT NOT NULL,
    author_id BIGINT REFERENCES users (id),
    author_label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX local_needs_target ON local_needs (target_id);

CREATE TABLE memberships (
    id INTEGER PRIMARY KEY,
    organisation_id BIGINT NOT NULL UNIQUE REFERENCES organisations (id),
    joined_on TEXT NOT NULL,
    themes TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE membership_representatives (
    membership_id BIGINT NOT NULL REFERENCES memberships (id) ON DELETE CASCADE,
    person_id BIGINT NOT NULL REFERENCES people (id),
    PRIMARY KEY (membership_id, person_id)
);
