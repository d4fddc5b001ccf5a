//! Failed and successful logins, read by the login throttle (`web/auth.rs`): per account, per address and per
//! pair, so a password guesser is slowed without locking the real person out.

use super::{Store, StoreResult, with_db};

/// The failed logins that bear on one attempt (see `login_attempt_record`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginAttemptRecord {
    /// Failures of this account from this address.
    pub pair_failures: i64,
    pub pair_last_failure_at: Option<i64>,
    /// Failures of this account from every address.
    pub account_failures: i64,
    /// Failures from this address on every account.
    pub address_failures: i64,
    /// Whether the account logged in successfully from this address recently.
    pub known_address: bool,
}

/// Whose failures [`Store::nth_latest_login_failure`] reads.
#[derive(Debug, Clone, Copy)]
pub enum LoginFailuresOf<'a> {
    Account(&'a str),
    Address(&'a str),
}

impl Store {
    pub async fn record_login_failure(
        &self,
        account: &str,
        address: &str,
        now: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "INSERT INTO login_failures (account, address, failed_at) VALUES ($1, $2, $3)"
        )
        .bind(account)
        .bind(address)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Failures since `since` for this account and for this address.
    pub async fn count_login_failures(
        &self,
        account: &str,
        address: &str,
        since: i64,
    ) -> StoreResult<(i64, i64)> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND failed_at >= $3),
                    (SELECT COUNT(*) FROM login_failures WHERE address = $2 AND failed_at >= $3)"
        )
        .bind(account)
        .bind(address)
        .bind(since)
        .fetch_one(p)
        .await)?)
    }

    /// Forgets failures older than `before` (they no longer count towards a lockout).
    pub async fn delete_old_login_failures(&self, before: i64) -> StoreResult<u64> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE failed_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Clears every failure of the account, from every address (an administrator's unlock).
    pub async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE account = $1"
        )
        .bind(account)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// What login throttling needs to know about an attempt on `account` from `address`: failures since
    /// `since`, and whether the account logged in from that address since `known_since`.
    pub async fn login_attempt_record(
        &self,
        account: &str,
        address: &str,
        since: i64,
        known_since: i64,
    ) -> StoreResult<LoginAttemptRecord> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT
                (SELECT COUNT(*) FROM login_failures
                 WHERE account = $1 AND address = $2 AND failed_at >= $3) AS pair_failures,
                (SELECT MAX(failed_at) FROM login_failures
                 WHERE account = $1 AND address = $2 AND failed_at >= $3) AS pair_last_failure_at,
                (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND failed_at >= $3) AS account_failures,
                (SELECT COUNT(*) FROM login_failures WHERE address = $2 AND failed_at >= $3) AS address_failures,
                EXISTS (SELECT 1 FROM login_addresses
                        WHERE account = $1 AND address = $2 AND last_success_at >= $4) AS known_address"
        )
        .bind(account)
        .bind(address)
        .bind(since)
        .bind(known_since)
        .fetch_one(p)
        .await
        })?)
    }

    /// When the `count`-th most recent failure since `since` of an account or an address happened: once it
    /// is older than the window, fewer than `count` failures remain in it.
    pub async fn nth_latest_login_failure(
        &self,
        of: LoginFailuresOf<'_>,
        count: i64,
        since: i64,
    ) -> StoreResult<Option<i64>> {
        let (sql, key) = match of {
            LoginFailuresOf::Account(account) => (
                "SELECT failed_at FROM login_failures WHERE account = $1 AND failed_at >= $2
                 ORDER BY failed_at DESC LIMIT 1 OFFSET $3",
                account,
            ),
            LoginFailuresOf::Address(address) => (
                "SELECT failed_at FROM login_failures WHERE address = $1 AND failed_at >= $2
                 ORDER BY failed_at DESC LIMIT 1 OFFSET $3",
                address,
            ),
        };
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(key)
            .bind(since)
            .bind((count - 1).max(0))
            .fetch_optional(p)
            .await)?)
    }

    /// A successful login: clears the failures of this account from this address (not those from
    /// elsewhere, which still count towards the account's limit), and remembers the address as one the
    /// account uses; addresses not used since `forget_before` are forgotten.
    pub async fn record_login_success(
        &self,
        account: &str,
        address: &str,
        now: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE account = $1 AND address = $2"
        )
        .bind(account)
        .bind(address)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO login_addresses (account, address, last_success_at) VALUES ($1, $2, $3)
             ON CONFLICT (account, address) DO UPDATE SET last_success_at = excluded.last_success_at"
        )
        .bind(account)
        .bind(address)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_addresses WHERE account = $1 AND last_success_at < $2"
        )
        .bind(account)
        .bind(forget_before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
