-- The thread a list post belongs to: the id of the thread's first post, found from In-Reply-To and
-- References (a reply to a copy finds its post through the copy's Message-ID). Same column in
-- migrations/sqlite and migrations/postgres.
ALTER TABLE list_posts ADD COLUMN thread_id BIGINT;
CREATE INDEX list_posts_thread ON list_posts (list_id, thread_id, created_at);
CREATE INDEX list_posts_message ON list_posts (list_id, message_id);
