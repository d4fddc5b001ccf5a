-- Mailman's bounce scoring on each subscription: at most one bounce counted per day (bounce_day, Paris
-- time), the score starts again after 7 days without one, and at 5 delivery is disabled (state 'disabled');
-- then up to 3 warnings 7 days apart, and removal. Same columns in migrations/sqlite and migrations/postgres.
ALTER TABLE subscriptions ADD COLUMN bounce_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN bounce_day TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN bounce_warnings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN bounce_warned_at INTEGER;
