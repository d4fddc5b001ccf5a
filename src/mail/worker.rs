//! Delivery workers: inside `relais serve`, each claims due deliveries in batches with a lease, builds and
//! hands over each copy, and records that recipient's outcome before the next one, so progress is never
//! ahead of what was sent. Workers wake when this process enqueues mail; otherwise they sleep until the next
//! due delivery (a retry, or a lease that ran out after a crash), and at most [`POLL`] to see mail that
//! other processes enqueued. Stopping finishes the copy in hand and hands the rest of the batch back.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::builders::{Built, CopyBuilders};
use super::compose::{Copy, Links, PreparedMessage, compose};
use super::dkim::DkimKeys;
use super::recorder::OutcomeRecorder;
use super::relay_gate::{Admission, RelayGate};
use super::transport::{Attempt, Transport};
use super::unsubscribe::UnsubscribeKey;
use crate::clock::Clock;
use crate::config::MailSettings;
use crate::config::Settings;
use crate::domain::mail_kind::MailKind;
use crate::store::Store;
use crate::store::outbox::{ClaimedDelivery, DeliveryOutcome, OutcomeRecord};

/// The longest a worker sleeps without looking for due deliveries (milliseconds of the clock).
pub const POLL: i64 = 5_000;

/// What the workers share.
#[derive(Clone)]
pub struct Deliverer {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<MailSettings>,
    pub transport: Arc<Transport>,
    /// The signing keys, when DKIM selectors are configured.
    pub dkim: Option<Arc<DkimKeys>>,
    pub unsubscribe: UnsubscribeKey,
    /// The threads that build and sign copies.
    pub builders: CopyBuilders,
    /// Writes the outcomes, several workers' to a commit.
    pub recorder: OutcomeRecorder,
    /// Where relais is reached, for the links in copies.
    pub public_url: String,
    /// What names this instance's workers in their leases, the same from one start to the next: the
    /// machine's name and the data folder (two instances on one machine each have their own).
    pub instance: String,
    /// Pauses every worker while the relay cannot be reached.
    relay: Arc<RelayGate>,
    /// Messages prepared for their copies, shared by the workers: a list post's body is read and built once
    /// for all of them, not once a worker (a post with large attachments would be held 32 times over).
    prepared: Arc<std::sync::Mutex<HashMap<i64, PreparedCell>>>,
}

/// A message prepared once, by whichever worker needs it first.
type PreparedCell = Arc<tokio::sync::OnceCell<Arc<PreparedMessage>>>;

/// Messages kept prepared at most; past that the cache starts again (in-flight ones stay with their workers).
const PREPARED_KEPT: usize = 64;

/// Why a message could not be prepared.
enum PrepareError {
    /// It is gone: its deliveries fail.
    Missing,
    /// Reading it failed: try again later.
    Read(String),
}

impl Deliverer {
    /// Workers with the transport and DKIM keys the settings name (keys are read from the data folder),
    /// and the unsubscribe key kept in the database.
    pub async fn new(store: Store, clock: Clock, settings: &Settings) -> anyhow::Result<Deliverer> {
        let mail = &settings.mail;
        let dkim = DkimKeys::load(
            mail.domain(),
            &mail.dkim_rsa_selector,
            &mail.dkim_ed25519_selector,
            &settings.data_dir,
        )?;
        let unsubscribe = UnsubscribeKey::new(&store.secret("unsubscribe").await?);
        Ok(Deliverer {
            recorder: OutcomeRecorder::start(store.clone()),
            store,
            clock,
            settings: Arc::new(mail.clone()),
            transport: Arc::new(Transport::from_settings(mail, &settings.data_dir)?),
            dkim: dkim.map(Arc::new),
            unsubscribe,
            builders: CopyBuilders::start(),
            public_url: settings.server.public_url.clone(),
            instance: instance_name(&settings.data_dir),
            relay: Arc::default(),
            prepared: Arc::default(),
        })
    }

    /// Hands back the deliveries this instance's previous run held when it stopped without doing so
    /// (killed, or its machine lost), so they go out now rather than when their leases end. Only
    /// `relais serve` calls it, as it starts, before its workers run.
    pub async fn release_leases_of_previous_run(&self) -> anyhow::Result<()> {
        let released = self
            .store
            .release_instance_leases(&format!("{}/", self.instance))
            .await?;
        if released > 0 {
            tracing::warn!(released, instance = %self.instance, "deliveries held by this instance's previous run handed back");
        }
        Ok(())
    }
}

/// "<host>-<hash of the data folder>": stable across restarts, distinct between instances.
pub fn instance_name(data_dir: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "relais".into());
    let folder = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let hash = crate::security::sha256_hex(&folder.to_string_lossy());
    format!("{host}-{}", &hash[..12])
}

impl Deliverer {
    /// Runs the configured number of workers until `stop` is cancelled.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        // The instance, then this run: leases name the worker that holds them.
        let prefix = format!(
            "{}/{}",
            self.instance,
            &crate::security::random_token()[..8]
        );
        let workers: Vec<_> = (0..self.settings.workers)
            .map(|n| {
                let deliverer = self.clone();
                let stop = stop.clone();
                let name = format!("{prefix}-{n}");
                tokio::spawn(async move { deliverer.work(name, stop).await })
            })
            .collect();
        for worker in workers {
            let _ = worker.await;
        }
    }

    async fn work(&self, name: String, stop: CancellationToken) {
        let wake = self.store.mail_wake();
        let mut messages: HashMap<i64, Arc<PreparedMessage>> = HashMap::new();
        let lease = self.settings.lease_seconds * 1000;
        while !stop.is_cancelled() {
            let notified = wake.notified();
            tokio::pin!(notified);
            // Registered before looking, so mail enqueued meanwhile still wakes this worker.
            notified.as_mut().enable();
            let now = self.clock.now_millis();
            let trying = match self.relay.admit(now) {
                Admission::Open => false,
                Admission::Try => true,
                Admission::WaitUntil(until) => {
                    tokio::select! {
                        _ = self.clock.sleep_until(at_millis(until)) => {}
                        _ = stop.cancelled() => {}
                    }
                    continue;
                }
            };
            let claimed = match self
                .store
                .claim_deliveries(&name, now, now + lease, self.claim_size(now).await)
                .await
            {
                Ok(claimed) => claimed,
                Err(error) => {
                    // Try again soon in real time: waiting on the clock for the next due delivery could
                    // wait for a delivery that is already due.
                    tracing::warn!(%error, worker = %name, "claiming deliveries failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                if trying {
                    self.relay.give_up_try();
                }
                let next_due = match self.store.next_delivery_due().await {
                    Ok(next_due) => next_due,
                    Err(error) => {
                        tracing::warn!(%error, worker = %name, "reading the next due delivery failed");
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                        continue;
                    }
                };
                let until = next_due.map_or(now + POLL, |due| due.clamp(now, now + POLL));
                tokio::select! {
                    _ = &mut notified => {}
                    _ = self.clock.sleep_until(at_millis(until)) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
            let _renewal = self.renew_while_sending(&name, &claimed, lease);
            // Each copy is built while the previous one is in its SMTP dialogue, so the build threads
            // always have work and the dialogue's wait costs no time.
            let mut next = match claimed.first() {
                Some(first) => Some(self.prepare(first, &mut messages).await),
                None => None,
            };
            for (index, delivery) in claimed.iter().enumerate() {
                // Stopping, or the relay unreachable (found by this worker or another): the rest of the
                // batch goes back uncounted.
                let paused = index > 0
                    && matches!(
                        self.relay.admit(self.clock.now_millis()),
                        Admission::WaitUntil(_)
                    );
                if stop.is_cancelled() || paused {
                    self.hand_back(&name, &claimed[index..]).await;
                    break;
                }
                let prepared = next.take().expect("prepared before its turn");
                if let Some(following) = claimed.get(index + 1) {
                    next = Some(self.prepare(following, &mut messages).await);
                }
                let outcome = self.hand_over(delivery, prepared).await;
                let record = OutcomeRecord {
                    worker: name.clone(),
                    delivery_id: delivery.id,
                    outcome,
                    at: self.clock.now_millis(),
                };
                let recorded = self.recorder.record(record).await;
                match recorded {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(delivery = delivery.id, worker = %name, "lease lost before the outcome was recorded")
                    }
                    Err(error) => {
                        tracing::error!(%error, delivery = delivery.id, "outcome not recorded; the delivery will be tried again when its lease ends")
                    }
                }
            }
            if trying {
                // The try ended without reaching the transport (no copy to build, say): another may try.
                self.relay.give_up_try();
            }
            if messages.len() > 64 {
                messages.clear();
            }
        }
    }

    /// Keeps the leases of `claimed` until the returned handle is dropped: renewed every third of a lease,
    /// so a slow relay never lets them run out while this worker still sends.
    fn renew_while_sending(
        &self,
        name: &str,
        claimed: &[ClaimedDelivery],
        lease: i64,
    ) -> tokio_util::task::AbortOnDropHandle<()> {
        let store = self.store.clone();
        let clock = self.clock.clone();
        let name = name.to_string();
        let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            loop {
                clock
                    .sleep_until(at_millis(clock.now_millis() + lease / 3))
                    .await;
                let now = clock.now_millis();
                if let Err(error) = store.renew_leases(&name, &ids, now + lease).await {
                    tracing::warn!(%error, worker = %name, "leases not renewed");
                }
            }
        }))
    }

    /// How many deliveries to claim at once: an equal share of what is due among the workers, at most
    /// `mail.batch`, so a 1,000-copy post spreads over every worker (and SMTP connection) instead of the
    /// first few claiming it all.
    async fn claim_size(&self, now: i64) -> i64 {
        let batch = self.settings.batch.max(1);
        let workers = self.settings.workers.max(1) as i64;
        match self.store.due_deliveries(now, batch * workers).await {
            Ok(due) => ((due + workers - 1) / workers).clamp(1, batch),
            Err(_) => batch,
        }
    }

    /// Message `id` prepared for its copies, from the cache the workers share or read and built now.
    async fn prepared_message(&self, id: i64) -> Result<Arc<PreparedMessage>, PrepareError> {
        let cell = {
            let mut cache = self
                .prepared
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if cache.len() > PREPARED_KEPT {
                cache.clear();
            }
            cache.entry(id).or_default().clone()
        };
        cell.get_or_try_init(|| self.load_prepared(id))
            .await
            .cloned()
    }

    /// Reads message `id` and encodes its body once. A list post's body is the post as received with the
    /// footer kept with the message ([`crate::mail::list_copy`]), built off the async threads.
    async fn load_prepared(&self, id: i64) -> Result<Arc<PreparedMessage>, PrepareError> {
        let message = match self.store.mail_message(id).await {
            Ok(Some(message)) => message,
            Ok(None) => return Err(PrepareError::Missing),
            Err(error) => return Err(PrepareError::Read(format!("lecture du message : {error}"))),
        };
        if message.mail_kind() != Some(MailKind::ListPost) {
            return Ok(Arc::new(PreparedMessage::new(message)));
        }
        match self.store.post_source(message.id).await {
            Ok(Some((raw, strip))) => {
                let footer = crate::mail::list_copy::Footer {
                    text: message.body_text.clone(),
                    html: message.body_html.clone(),
                };
                let body = tokio::task::spawn_blocking(move || {
                    crate::mail::list_copy::copy_body(&raw, &footer, strip)
                })
                .await
                .map_err(|e| PrepareError::Read(format!("préparation du message reçu : {e}")))?;
                Ok(Arc::new(PreparedMessage::with_entity(message, body.entity)))
            }
            Ok(None) => Ok(Arc::new(PreparedMessage::new(message))),
            Err(error) => Err(PrepareError::Read(format!(
                "lecture du message reçu : {error}"
            ))),
        }
    }

    /// Starts building `delivery`'s copy on the build threads (without waiting for it), or says why there
    /// is none.
    async fn prepare(
        &self,
        delivery: &ClaimedDelivery,
        messages: &mut HashMap<i64, Arc<PreparedMessage>>,
    ) -> Prepared {
        let message = match messages.get(&delivery.message_id) {
            Some(message) => message.clone(),
            None => match self.prepared_message(delivery.message_id).await {
                Ok(message) => {
                    messages.insert(delivery.message_id, message.clone());
                    message
                }
                Err(PrepareError::Missing) => {
                    return Prepared::Outcome(DeliveryOutcome::Failed {
                        reply: "message introuvable".into(),
                    });
                }
                Err(PrepareError::Read(error)) => {
                    return Prepared::Outcome(self.retry(delivery, error));
                }
            },
        };
        // Building and signing a copy is CPU work (an RSA signature is a third of a millisecond): on the
        // build threads, while this worker's task goes on without holding an async thread.
        let settings = self.settings.clone();
        let dkim = self.dkim.clone();
        let delivery_for_copy = delivery.clone();
        let now = self.clock.now_millis();
        let links = Links::for_delivery(
            &self.public_url,
            &self.unsubscribe,
            &message.message,
            delivery.id,
        );
        Prepared::Building(self.builders.submit(move || -> Result<Copy, String> {
            let mut copy = compose(&settings, &message, &delivery_for_copy, &links, now)
                .map_err(|e| e.to_string())?;
            if let Some(dkim) = dkim {
                copy.raw = dkim.sign(copy.raw)?;
            }
            Ok(copy)
        }))
    }

    /// One attempt at one delivery: waits for its copy, then hands it to the transport.
    async fn hand_over(&self, delivery: &ClaimedDelivery, prepared: Prepared) -> DeliveryOutcome {
        let built = match prepared {
            Prepared::Outcome(outcome) => return outcome,
            Prepared::Building(built) => built.wait().await,
        };
        let copy = match built {
            Some(Ok(copy)) => copy,
            Some(Err(reply)) => return DeliveryOutcome::Bounced { reply },
            None => {
                return self.retry(delivery, "préparation de la copie interrompue".into());
            }
        };
        let file_name = format!("{}-{}", delivery.message_id, delivery.id);
        let attempt = self.transport.send(&copy, &file_name).await;
        if !matches!(attempt, Attempt::Unreachable(_)) {
            // A connection was opened, whatever it said about this copy.
            self.relay.reached();
        }
        match attempt {
            Attempt::Delivered(reply) => DeliveryOutcome::Sent { reply },
            Attempt::Temporary(reply) => self.retry(delivery, reply),
            Attempt::Permanent(reply) => DeliveryOutcome::Bounced { reply },
            Attempt::Unreachable(reply) => {
                // Only this copy is charged an attempt; it goes again with the gate's try.
                let until = self.relay.unreachable(self.clock.now_millis(), &reply);
                match self.retry(delivery, reply) {
                    DeliveryOutcome::Retry { reply, .. } => DeliveryOutcome::Retry {
                        reply,
                        retry_at: until,
                    },
                    failed => failed,
                }
            }
        }
    }

    /// A temporary failure: the next attempt on the schedule, or the end of it.
    fn retry(&self, delivery: &ClaimedDelivery, reply: String) -> DeliveryOutcome {
        let now = self.clock.now_millis();
        match self
            .settings
            .retry_at(delivery.attempts, delivery.created_at, now)
        {
            Some(retry_at) => DeliveryOutcome::Retry { reply, retry_at },
            None => DeliveryOutcome::Failed { reply },
        }
    }

    async fn hand_back(&self, name: &str, deliveries: &[ClaimedDelivery]) {
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        if let Err(error) = self.store.release_deliveries(name, &ids).await {
            tracing::warn!(%error, "unsent deliveries not handed back; they are due again when their lease ends");
        }
    }
}

/// A copy on its way: being built, or an outcome reached without one.
enum Prepared {
    Building(Built<Result<Copy, String>>),
    Outcome(DeliveryOutcome),
}

fn at_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_else(Utc::now)
}
