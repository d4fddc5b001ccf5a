-- The needs survey: the questionnaire staff edit (one row, its definition in JSON), the personal invitations
-- sent to contacts of targets, and the answers, with one row per theme rated so results aggregate in SQL.
-- Same tables in migrations/sqlite and migrations/postgres.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    -- {"intro": …, "themes": [{"code", "label"}], "involvement": [...], "slots": [...]}
    definition TEXT NOT NULL,
    -- A reminder goes to whoever has not answered after this many days; links expire after link_days.
    reminder_days INTEGER NOT NULL DEFAULT 10,
    link_days INTEGER NOT NULL DEFAULT 30,
    updated_at INTEGER NOT NULL
);

INSERT INTO surveys (title, definition, reminder_days, link_days, updated_at) VALUES (
    'Recensement des attentes',
    '{"intro":"Ce questionnaire nous aide à construire les réunions du Club des collectivités engagées autour de ce dont vous avez besoin. Il prend une dizaine de minutes ; vous pouvez l''enregistrer et y revenir.","themes":[{"code":"eau","label":"Accès à l''eau"},{"code":"electricite","label":"Électricité"},{"code":"dechets","label":"Ramassage des déchets"},{"code":"scolarisation","label":"Scolarisation"},{"code":"relogement","label":"Relogement"},{"code":"emploi","label":"Emploi"},{"code":"sante","label":"Santé"},{"code":"acces_aux_droits","label":"Accès aux droits"}],"involvement":["Suivre les travaux du club","Participer aux réunions","Présenter une expérience de ma collectivité","Accueillir ou animer une réunion"],"slots":["Mardi après-midi","Mercredi matin","Jeudi après-midi","Vendredi matin"]}',
    10, 30, 0);

CREATE TABLE survey_invitations (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys (id),
    target_id INTEGER NOT NULL REFERENCES targets (id),
    -- NULL once the person's data is erased.
    person_id INTEGER REFERENCES people (id),
    address TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    reminded_at INTEGER,
    -- The form as last saved without sending: JSON pairs of field names and values.
    draft TEXT NOT NULL DEFAULT '',
    answered_at INTEGER,
    UNIQUE (survey_id, person_id)
);
CREATE INDEX survey_invitations_due ON survey_invitations (answered_at, reminded_at, sent_at);

CREATE TABLE survey_answers (
    id INTEGER PRIMARY KEY,
    invitation_id INTEGER NOT NULL UNIQUE REFERENCES survey_invitations (id),
    survey_id INTEGER NOT NULL REFERENCES surveys (id),
    target_id INTEGER NOT NULL REFERENCES targets (id),
    problems TEXT NOT NULL DEFAULT '',
    other_themes TEXT NOT NULL DEFAULT '',
    involvement TEXT NOT NULL DEFAULT '',
    -- Preferred meeting slots, one per line.
    slots TEXT NOT NULL DEFAULT '',
    comments TEXT NOT NULL DEFAULT '',
    submitted_at INTEGER NOT NULL
);

CREATE TABLE survey_theme_answers (
    answer_id INTEGER NOT NULL REFERENCES survey_answers (id),
    theme TEXT NOT NULL,
    interest INTEGER NOT NULL CHECK (interest BETWEEN -2 AND 2),
    experience INTEGER NOT NULL CHECK (experience BETWEEN 0 AND 3),
    PRIMARY KEY (answer_id, theme)
);
