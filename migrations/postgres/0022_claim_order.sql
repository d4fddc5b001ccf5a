-- The queued deliveries in the order workers claim them. A claim walks this index and stops at its batch,
-- instead of sorting every queued delivery by id within the same next_attempt_at (all 20,000 copies of a
-- newsletter share one): under two instances on PostgreSQL that sort, repeated by every worker's claim while
-- holding row locks, made claims take tens of seconds and the outcomes wait behind them.
CREATE INDEX mail_deliveries_claim_order ON mail_deliveries (next_attempt_at, id) WHERE state = 'queued';
