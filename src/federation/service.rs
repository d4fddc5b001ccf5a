//! The federation handle the web side and the scheduler share: this instance's addresses, its two actors'
//! keys (made once and kept in the database, so instances on one database sign alike), the guarded client,
//! and the one way activities leave: [`Federation::send`] queues a delivery per partner inbox in the
//! durable outbox, which the federation job empties (`delivery.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::client::FederationClient;
use super::documents;
use super::keys::ActorKey;
use super::urls::Urls;
use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;
use crate::store::federation::Partner;
use crate::store::federation_deliveries::NewActivityDelivery;

/// Who signs an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    Group,
    Application,
}

impl Signer {
    pub fn code(self) -> &'static str {
        match self {
            Signer::Group => "group",
            Signer::Application => "application",
        }
    }
}

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct Federation(Arc<Inner>);

struct Inner {
    store: Store,
    settings: Arc<Settings>,
    clock: Clock,
    client: FederationClient,
    urls: Urls,
    /// The Group's and the Application's keys, read (or made) the first time one is needed: an instance
    /// that never federates never pays for making them.
    keys: tokio::sync::OnceCell<(ActorKey, ActorKey)>,
    /// When each partner host posted to the inbox in the last minute.
    inbox_budget: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Federation {
    /// Builds the client; the actors' keys are read (or made) when first needed.
    pub async fn new(
        store: Store,
        settings: Arc<Settings>,
        clock: Clock,
    ) -> anyhow::Result<Federation> {
        let urls = Urls::new(&settings.server.public_url, &settings.federation.group_name)?;
        let client = FederationClient::new(&settings.federation, clock.clone())?;
        Ok(Federation(Arc::new(Inner {
            store,
            settings,
            clock,
            client,
            urls,
            keys: tokio::sync::OnceCell::new(),
            inbox_budget: Mutex::default(),
        })))
    }

    /// The Group's and the Application's keys, kept in the database (made by the first instance to ask).
    async fn keys(&self) -> anyhow::Result<&(ActorKey, ActorKey)> {
        self.0
            .keys
            .get_or_try_init(|| async {
                let store = &self.0.store;
                let generate = || Ok(ActorKey::generate()?.private_pem());
                let group = store
                    .actor_key_pem("federation_group_key", generate)
                    .await?;
                let application = store
                    .actor_key_pem("federation_application_key", generate)
                    .await?;
                anyhow::Ok((
                    ActorKey::from_pem(&group)?,
                    ActorKey::from_pem(&application)?,
                ))
            })
            .await
    }

    pub fn urls(&self) -> &Urls {
        &self.0.urls
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn client(&self) -> &FederationClient {
        &self.0.client
    }

    /// The key and key id of an actor of relais.
    pub async fn signer(&self, signer: Signer) -> anyhow::Result<(&ActorKey, String)> {
        let (group, application) = self.keys().await?;
        Ok(match signer {
            Signer::Group => (group, self.0.urls.group_key_id()),
            Signer::Application => (application, self.0.urls.application_key_id()),
        })
    }

    /// The network's name as partners see it.
    pub fn network_name(&self) -> &str {
        &self.0.settings.federation.network_name
    }

    pub async fn group_document(&self) -> anyhow::Result<Value> {
        let settings = &self.0.settings.federation;
        let (group, _) = self.keys().await?;
        Ok(documents::group_actor(
            &self.0.urls,
            &settings.network_name,
            &settings.network_summary,
            &group.public_pem(),
        ))
    }

    pub async fn application_document(&self) -> anyhow::Result<Value> {
        let (_, application) = self.keys().await?;
        Ok(documents::application_actor(
            &self.0.urls,
            &self.0.settings.federation.network_name,
            &application.public_pem(),
        ))
    }

    /// Queues `activity` for each partner's inbox (allowed partners only), signed by the Group.
    pub async fn send(&self, activity: &Value, label: &str, to: &[Partner]) -> anyhow::Result<u64> {
        let id = activity["id"].as_str().unwrap_or_default().to_string();
        let body = activity.to_string();
        let deliveries: Vec<NewActivityDelivery<'_>> = to
            .iter()
            .filter(|partner| partner.allowed && !partner.inbox_url.is_empty())
            .map(|partner| NewActivityDelivery {
                partner_id: partner.id,
                activity_id: &id,
                label,
                inbox_url: &partner.inbox_url,
                signer: Signer::Group.code(),
                body: &body,
            })
            .collect();
        Ok(self
            .0
            .store
            .enqueue_activities(&deliveries, self.0.clock.now_millis())
            .await?)
    }

    /// Queues `activity` for every partner that follows the Group.
    pub async fn send_to_followers(&self, activity: &Value, label: &str) -> anyhow::Result<u64> {
        let followers = self.0.store.follower_partners().await?;
        self.send(activity, label, &followers).await
    }

    /// Spends one of `host`'s inbox posts this minute; false when it has none left.
    pub fn spend_inbox_budget(&self, host: &str) -> bool {
        let now = self.0.clock.now_millis();
        let limit = self.0.settings.federation.inbox_per_minute as usize;
        let mut budget = self
            .0
            .inbox_budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if budget.len() > 10_000 {
            budget.clear();
        }
        let times = budget.entry(host.to_string()).or_default();
        while times.front().is_some_and(|at| *at <= now - 60_000) {
            times.pop_front();
        }
        if times.len() >= limit {
            return false;
        }
        times.push_back(now);
        true
    }
}
