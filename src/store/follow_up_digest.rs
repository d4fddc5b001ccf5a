//! The daily follow-up digest's queries: who has follow-ups due, and the claim that makes each person's digest
//! go out once a day across instances.

use super::{Store, StoreResult, Tx, with_db, with_tx};

impl Store {
    /// Active staff members and admins who own a target whose next action is due on `today` or before.
    pub async fn staff_with_due_follow_ups(
        &self,
        today: chrono::NaiveDate,
    ) -> StoreResult<Vec<super::accounts::User>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.role, u.password_hash, u.association_id, u.active, u.created_at,
                u.last_login_at
             FROM users u WHERE u.active AND u.role IN ('staff', 'admin') AND EXISTS (
                SELECT 1 FROM targets t WHERE t.owner_id = u.id AND t.next_action_date <= $1)
             ORDER BY u.id"
        )
        .bind(today)
        .fetch_all(p)
        .await
        })?)
    }
}

/// Claims the digest of `user_id` for `day` inside `tx`: false when it was already claimed (by this or
/// another instance), in which case nothing should be enqueued.
pub async fn claim_digest_day(tx: &mut Tx, user_id: i64, day: &str) -> StoreResult<bool> {
    let inserted = with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO digest_days (user_id, day) VALUES ($1, $2) ON CONFLICT (user_id, day) DO NOTHING"
    )
    .bind(user_id)
    .bind(day)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}
