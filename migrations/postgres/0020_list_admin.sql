-- Staff run a discussion list from its page (web/pages/lists.rs). Re-subscribing someone who left, at their
-- request, records who in the team did it beside the consent's date and ground (subscriptions.consent_by;
-- empty for consent given by the person through a form or a link). "Courriers reçus" shows a held post's
-- moderation decision, found from its received message. Same statements in migrations/sqlite and
-- migrations/postgres.
ALTER TABLE subscriptions ADD COLUMN consent_by TEXT NOT NULL DEFAULT '';
CREATE INDEX list_posts_inbound ON list_posts (inbound_message_id);
