-- A discussion list may send every subscriber the same signed copy (Mailman's non-personalised delivery):
-- one DKIM signature per post instead of one per subscriber; the envelope still names each delivery (VERP).
ALTER TABLE mailing_lists ADD COLUMN personalized BOOLEAN NOT NULL DEFAULT TRUE;
-- Set on a message whose copies are all the same bytes (To: the list, one Message-ID, no one-click link).
ALTER TABLE mail_messages ADD COLUMN shared_copy BOOLEAN NOT NULL DEFAULT FALSE;
