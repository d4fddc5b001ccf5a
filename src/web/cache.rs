//! Views derived from the database that many requests read and few writes change (the dashboard's
//! aggregates, the list of staff who can own targets). An entry is reused until this process commits a
//! transaction (the store's generation moves) or, for writes of another instance or of the command line,
//! until [`STALE_AFTER`] has passed. One computation runs at a time, so a burst of requests that miss
//! together waits for it instead of all querying the database; while an entry that is merely old is
//! recomputed, the others are served the old one.
//!
//! [`SessionCache`] keeps the sessions read recently under the same rule, so most requests skip the
//! session query. A logout forgets its session at once; a session ended by another instance (or an account
//! deactivated from the command line) stays usable here for at most [`STALE_AFTER`].

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::Store;
use crate::store::accounts::ActiveSession;

pub const STALE_AFTER: Duration = Duration::from_secs(5);

struct Entry<V> {
    generation: u64,
    computed: Instant,
    value: Arc<V>,
}

pub struct DerivedCache<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    computing: tokio::sync::Mutex<()>,
}

impl<K, V> Default for DerivedCache<K, V> {
    fn default() -> Self {
        DerivedCache {
            entries: Mutex::new(HashMap::new()),
            computing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<K: Eq + Hash + Clone, V> DerivedCache<K, V> {
    fn fresh(&self, key: &K, generation: u64) -> Option<Arc<V>> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(key)
            .filter(|hit| hit.generation == generation && hit.computed.elapsed() < STALE_AFTER)
            .map(|hit| hit.value.clone())
    }

    fn unchanged(&self, key: &K, generation: u64) -> Option<Arc<V>> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(key)
            .filter(|hit| hit.generation == generation)
            .map(|hit| hit.value.clone())
    }

    /// The value of `key`, computed by `compute` when missing or stale. `keep` says which other entries to
    /// keep when a new one is stored (for example, only today's).
    pub async fn get<E, F, Fut>(
        &self,
        store: &Store,
        key: K,
        keep: impl Fn(&K) -> bool,
        compute: F,
    ) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.fresh(&key, store.generation()) {
            return Ok(value);
        }
        let _computing = match self.computing.try_lock() {
            Ok(guard) => guard,
            // Another request is computing. An entry that is only old (no commit since) is served meanwhile,
            // so the periodic refresh never stalls the requests that arrive during it.
            Err(_) => match self.unchanged(&key, store.generation()) {
                Some(value) => return Ok(value),
                None => self.computing.lock().await,
            },
        };
        // Read the generation before computing: a write committed meanwhile makes the result stale at once.
        let generation = store.generation();
        if let Some(value) = self.fresh(&key, generation) {
            return Ok(value);
        }
        let value = Arc::new(compute().await?);
        let mut entries = self.entries.lock().expect("cache lock");
        entries.retain(|k, _| keep(k));
        entries.insert(
            key,
            Entry {
                generation,
                computed: Instant::now(),
                value: value.clone(),
            },
        );
        Ok(value)
    }
}

/// Beyond this many cached sessions the cache starts again empty (a bound, not an expected size).
const MAX_SESSIONS: usize = 10_000;

struct CachedSession {
    generation: u64,
    read: Instant,
    session: ActiveSession,
}

/// Live sessions by the SHA-256 of their token. Unknown tokens are never cached, so guessing fills nothing.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, CachedSession>>,
}

impl SessionCache {
    /// The session of `token_hash` if it was read since the last commit, less than [`STALE_AFTER`] ago,
    /// and has not ended at `now` (milliseconds of the application clock).
    pub fn get(&self, token_hash: &str, generation: u64, now: i64) -> Option<ActiveSession> {
        let entries = self.entries.lock().expect("session cache lock");
        entries
            .get(token_hash)
            .filter(|hit| {
                hit.generation == generation
                    && hit.read.elapsed() < STALE_AFTER
                    && hit.session.expires_at > now
            })
            .map(|hit| hit.session.clone())
    }

    /// Keeps `session`, read from the database at `generation` (taken before the read).
    pub fn insert(&self, token_hash: String, generation: u64, session: ActiveSession) {
        let mut entries = self.entries.lock().expect("session cache lock");
        if entries.len() >= MAX_SESSIONS {
            entries.clear();
        }
        entries.insert(
            token_hash,
            CachedSession {
                generation,
                read: Instant::now(),
                session,
            },
        );
    }

    pub fn forget(&self, token_hash: &str) {
        self.entries
            .lock()
            .expect("session cache lock")
            .remove(token_hash);
    }
}
