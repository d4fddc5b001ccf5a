//! The outcome recorder: one task that writes the delivery workers' outcomes, several to a transaction.
//!
//! Each worker still waits until its copy's outcome is committed before it takes the next copy, so progress
//! is recorded per recipient at send time, exactly as if it wrote alone. But the outcomes that arrive while
//! a commit is under way go together into the next one (group commit): on SQLite, where writers take turns
//! on one lock, eight workers writing one row each spent more time waiting for the lock than sending.

use tokio::sync::{mpsc, oneshot};

use crate::store::outbox::OutcomeRecord;
use crate::store::{Store, StoreResult};

/// The most outcomes written in one transaction.
const MOST_PER_COMMIT: usize = 256;

struct Pending {
    record: OutcomeRecord,
    recorded: oneshot::Sender<StoreResult<bool>>,
}

/// A handle on the recorder task, which ends when the last handle is dropped.
#[derive(Clone)]
pub struct OutcomeRecorder {
    pending: mpsc::UnboundedSender<Pending>,
}

impl OutcomeRecorder {
    pub fn start(store: Store) -> OutcomeRecorder {
        let (pending, queue) = mpsc::unbounded_channel();
        tokio::spawn(record_until_closed(store, queue));
        OutcomeRecorder { pending }
    }

    /// Records one outcome and waits for its commit; false when the worker's lease had been lost.
    pub async fn record(&self, record: OutcomeRecord) -> StoreResult<bool> {
        let (recorded, answer) = oneshot::channel();
        // The task ends only when every handle is gone, or with the runtime.
        let closed = || crate::store::StoreError::Database(sqlx::Error::PoolClosed);
        self.pending
            .send(Pending { record, recorded })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn record_until_closed(store: Store, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(MOST_PER_COMMIT);
    while queue.recv_many(&mut batch, MOST_PER_COMMIT).await > 0 {
        let records: Vec<OutcomeRecord> = batch.iter().map(|p| p.record.clone()).collect();
        match store.record_deliveries(&records).await {
            Ok(recorded) => {
                for (pending, recorded) in batch.drain(..).zip(recorded) {
                    let _ = pending.recorded.send(Ok(recorded));
                }
            }
            // One outcome that cannot be written must not take the others with it: each alone.
            Err(_) => {
                for pending in batch.drain(..) {
                    let recorded = store
                        .record_deliveries(std::slice::from_ref(&pending.record))
                        .await
                        .map(|recorded| recorded[0]);
                    let _ = pending.recorded.send(recorded);
                }
            }
        }
    }
}
