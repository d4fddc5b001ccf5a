//! How many mails the public forms may send for one client: a small budget per client address and hour, so
//! one machine cannot make relais mail confirmation after confirmation (each form mails someone). The client
//! is the address [`super::client`] reads (through trusted proxies); an IPv6 client counts by its /64. Kept in
//! memory: a restart or another instance starts a fresh budget, which is acceptable for a limit meant to
//! stop floods, not to count exactly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Mails a client may cause through the public forms in an hour.
pub const PER_HOUR: usize = 10;

const HOUR_MS: i64 = 3_600_000;

/// Clients remembered at most; past that the oldest budgets are forgotten (a flood from many addresses
/// must not grow memory without end).
const CLIENTS_KEPT: usize = 10_000;

/// The budget of every client seen in the last hour.
#[derive(Default)]
pub struct ClientBudget {
    spent: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

impl ClientBudget {
    /// Spends one mail of `client`'s budget at `now` (epoch milliseconds); false when the last hour already
    /// took [`PER_HOUR`].
    pub fn spend(&self, client: IpAddr, now: i64) -> bool {
        let client = super::client::block_of(client);
        let mut spent = self
            .spent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if spent.len() > CLIENTS_KEPT {
            spent.retain(|_, times| times.iter().any(|t| *t > now - HOUR_MS));
            if spent.len() > CLIENTS_KEPT {
                spent.clear();
            }
        }
        let times = spent.entry(client).or_default();
        times.retain(|t| *t > now - HOUR_MS);
        if times.len() >= PER_HOUR {
            return false;
        }
        times.push(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_budget_back_an_hour_later() {
        let budget = ClientBudget::default();
        let client: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        for _ in 0..PER_HOUR {
            assert!(budget.spend(client, 0));
        }
        assert!(!budget.spend(client, 1_000));
        assert!(budget.spend(other, 1_000), "another client has its own");
        assert!(budget.spend(client, HOUR_MS + 1));
    }

    #[test]
    fn an_ipv6_client_cannot_renew_its_budget_within_its_64() {
        let budget = ClientBudget::default();
        for host in 0..PER_HOUR as u16 {
            assert!(budget.spend([0x2001, 0xdb8, 1, 2, 0, 0, 0, host].into(), 0));
        }
        assert!(!budget.spend([0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 1].into(), 0));
        assert!(budget.spend([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1].into(), 0));
    }
}
