//! The gate in front of the relay: when no connection to it can be opened, every worker stops sending for a
//! growing pause (1 s, 2 s, 4 s… at most [`LONGEST_PAUSE`]), then one worker alone tries one copy, and the
//! others follow only once it got through. Without it, an outage charged one attempt to every queued copy
//! within seconds (thousands of "connection refused"), and part of a send slipped to the next retry, minutes
//! later. Times are the injectable clock's milliseconds.

use std::sync::Mutex;

/// The first pause after the relay could not be reached.
pub const FIRST_PAUSE: i64 = 1_000;
/// The longest pause between two tries of an unreachable relay.
pub const LONGEST_PAUSE: i64 = 60_000;
/// How long a worker waits before asking again while another worker's try is under way.
const WHILE_TRYING: i64 = 250;

/// Whether a worker may send now.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send: the relay is reachable.
    Open,
    /// Send one copy: the pause is over and this worker makes the try. It calls
    /// [`RelayGate::give_up_try`] if it has nothing to send.
    Try,
    /// Wait until this time, then ask again.
    WaitUntil(i64),
}

#[derive(Default)]
struct GateState {
    /// Tries that failed in a row; none when the relay is reachable.
    failures: u32,
    paused_until: i64,
    /// A worker is making the try that ends a pause.
    trying: bool,
}

/// Shared by the delivery workers of one process.
#[derive(Default)]
pub struct RelayGate {
    state: Mutex<GateState>,
}

impl RelayGate {
    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Asked before each copy.
    pub fn admit(&self, now: i64) -> Admission {
        let mut state = self.state();
        if state.failures == 0 {
            Admission::Open
        } else if now < state.paused_until {
            Admission::WaitUntil(state.paused_until)
        } else if state.trying {
            Admission::WaitUntil(now + WHILE_TRYING)
        } else {
            state.trying = true;
            Admission::Try
        }
    }

    /// The worker making the try had nothing to send: another may make it.
    pub fn give_up_try(&self) {
        self.state().trying = false;
    }

    /// A connection was opened: everyone may send.
    pub fn reached(&self) {
        let mut state = self.state();
        if state.failures > 0 {
            tracing::info!(failures = state.failures, "the relay answers again");
        }
        *state = GateState::default();
    }

    /// No connection could be opened at `now`: pauses every worker, and returns until when. Failures seen
    /// during a pause (by workers whose connection was already under way) do not lengthen it.
    pub fn unreachable(&self, now: i64, reason: &str) -> i64 {
        let mut state = self.state();
        if state.failures > 0 && now < state.paused_until {
            return state.paused_until;
        }
        state.failures += 1;
        let pause = FIRST_PAUSE
            .saturating_mul(1 << (state.failures - 1).min(16))
            .min(LONGEST_PAUSE);
        state.paused_until = now + pause;
        state.trying = false;
        tracing::warn!(
            reason,
            pause_ms = pause,
            "the relay cannot be reached; sending paused"
        );
        state.paused_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_one_worker_tries_after_each() {
        let gate = RelayGate::default();
        assert_eq!(gate.admit(0), Admission::Open);
        assert_eq!(gate.unreachable(0, "refusée"), 1_000);
        // Another worker's connection fails within the pause: the pause is not lengthened.
        assert_eq!(gate.unreachable(10, "refusée"), 1_000);
        assert_eq!(gate.admit(500), Admission::WaitUntil(1_000));
        assert_eq!(gate.admit(1_000), Admission::Try);
        assert_eq!(gate.admit(1_001), Admission::WaitUntil(1_251));
        gate.give_up_try();
        assert_eq!(gate.admit(1_002), Admission::Try);
        assert_eq!(gate.unreachable(1_100, "refusée"), 3_100);
        assert_eq!(gate.admit(3_100), Admission::Try);
        assert_eq!(gate.unreachable(3_200, "refusée"), 7_200);
        for _ in 0..20 {
            let now = gate.state().paused_until;
            assert_eq!(gate.admit(now), Admission::Try);
            gate.unreachable(now, "refusée");
        }
        let now = gate.state().paused_until;
        assert_eq!(gate.admit(now), Admission::Try);
        assert_eq!(gate.unreachable(now, "refusée"), now + LONGEST_PAUSE);
        gate.reached();
        assert_eq!(gate.admit(now), Admission::Open);
        assert_eq!(gate.admit(now), Admission::Open);
    }
}
