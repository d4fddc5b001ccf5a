-- Bimonthly meetings: series (a recurrence rule), their occurrences, agendas, invitees and their answers,
-- minutes, and every dispatch made for a meeting. Same tables in migrations/sqlite and migrations/postgres.

-- Practical and method sheets, linked from agendas (and later minutes and the newsletter).
CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- Comma-separated theme codes.
    themes TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE meeting_series (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    -- RFC 5545 RRULE, e.g. FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU, from first_start in Paris time.
    rrule TEXT NOT NULL,
    -- Local (Europe/Paris) date and time of the first occurrence: YYYY-MM-DDTHH:MM.
    first_start TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    video_url TEXT NOT NULL DEFAULT '',
    -- Who is invited besides speakers: the representatives of member collectivities, and staff.
    invite_members BOOLEAN NOT NULL DEFAULT TRUE,
    invite_staff BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL
);

-- One occurrence. `occurrence_start` is the rule's date (the RECURRENCE-ID); `starts_at` may be moved.
-- `sequence` is raised on every change; `sent_sequence` is the SEQUENCE of the last invitation sent.
CREATE TABLE meetings (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES meeting_series (id),
    uid TEXT NOT NULL UNIQUE,
    occurrence_start INTEGER NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    theme TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'planned' CHECK (state IN ('planned', 'cancelled')),
    sequence INTEGER NOT NULL DEFAULT 0,
    agenda_ready BOOLEAN NOT NULL DEFAULT FALSE,
    sent_sequence INTEGER,
    minutes TEXT NOT NULL DEFAULT '',
    minutes_sent_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (series_id, occurrence_start)
);
CREATE INDEX meetings_start ON meetings (state, starts_at);

CREATE TABLE agenda_items (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    presenter TEXT NOT NULL DEFAULT '',
    duration_minutes INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX agenda_items_meeting ON agenda_items (meeting_id, position);

CREATE TABLE agenda_item_resources (
    item_id INTEGER NOT NULL REFERENCES agenda_items (id) ON DELETE CASCADE,
    resource_id INTEGER NOT NULL REFERENCES resources (id),
    PRIMARY KEY (item_id, resource_id)
);

-- Who a meeting's mails go to: invitees (from the series' list), speakers, staff; their answer and, after
-- the meeting, whether they attended.
CREATE TABLE meeting_attendees (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    address TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    person_id INTEGER REFERENCES people (id),
    organisation TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('invitee', 'speaker', 'staff')),
    response TEXT NOT NULL DEFAULT 'needs-action'
        CHECK (response IN ('needs-action', 'accepted', 'declined', 'tentative')),
    responded_at INTEGER,
    attended BOOLEAN,
    created_at INTEGER NOT NULL,
    UNIQUE (meeting_id, address)
);

-- Every dispatch of a meeting, claimed before its mail is enqueued in the same transaction: one per
-- meeting, step and sequence, whatever the instances and restarts.
CREATE TABLE meeting_dispatches (
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    step TEXT NOT NULL,
    sequence INTEGER NOT NULL DEFAULT 0,
    message_id INTEGER REFERENCES mail_messages (id),
    late BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, step, sequence)
);

-- Items of the minutes staff flag for the member associations: a good practice or a blocking point.
CREATE TABLE minutes_items (
    id INTEGER PRIMARY KEY,
    meeting_id INTEGER NOT NULL REFERENCES meetings (id),
    kind TEXT NOT NULL CHECK (kind IN ('good_practice', 'blocking_point')),
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    pushed_to_newsletter BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL
);
CREATE INDEX minutes_items_meeting ON minutes_items (meeting_id);

-- An iCalendar part for invitations (text/calendar; method=...), the same for every copy.
ALTER TABLE mail_messages ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN calendar_method TEXT NOT NULL DEFAULT '';

-- The member associations' list, where good practices and blocking points are relayed.
INSERT INTO mailing_lists (list_key, name, description, kind, created_at) VALUES
    ('associations', 'Associations membres',
     'Les associations membres du collectif : bonnes pratiques et points de blocage relevés en réunion.',
     'announce', 0);
