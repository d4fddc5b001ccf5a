-- Login throttling by account and client address (src/web/auth.rs).
-- The delay of one account from one address reads the failures of that pair.
CREATE INDEX login_failures_pair ON login_failures (account, address, failed_at);

-- Where each account last logged in successfully: limits across addresses or across accounts never refuse
-- an account at an address it logged in from recently, so nobody else's failures lock its owner out there.
CREATE TABLE login_addresses (
    account TEXT NOT NULL,
    address TEXT NOT NULL,
    last_success_at BIGINT NOT NULL,
    PRIMARY KEY (account, address)
);
