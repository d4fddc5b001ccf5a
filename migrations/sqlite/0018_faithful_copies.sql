-- Copies of a list post are the post as received, with the list's footer (mail/list_copy.rs). A list may strip
-- programs from posts (Mailman's content filter); the names of what a post lost are kept for the archive.
ALTER TABLE mailing_lists ADD COLUMN strip_executables BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE list_posts ADD COLUMN removed TEXT NOT NULL DEFAULT '';
