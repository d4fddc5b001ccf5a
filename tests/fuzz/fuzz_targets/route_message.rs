//! Routing of a received message: the input's first byte picks one of relais' own addresses (staff and
//! calendar replies, a discussion list and its `-join`, `-leave` and `-request` commands, the announce list
//! and its `-join`, a known and an unknown bounce token, an unsubscribe token), the rest is the raw message,
//! stored as the LMTP session would store it and then routed, so every route sees every kind of message.
//!
//! Checked: no panic, not even in the task of one recipient, where relais itself would only mark that
//! recipient failed (libFuzzer's panic hook aborts first); routing returns without a database error; and
//! the recipient ends in a final state with an outcome staff can read, never left `received` or `routing`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relais::inbound::session::SessionClient;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let world = relais_fuzz::world();
    let recipient = &world.recipients[usize::from(pick) % world.recipients.len()];
    world.runtime.block_on(async {
        let inbound = &world.inbound;
        let id = inbound
            .store_message(
                "lmtp",
                "127.0.0.1:10025",
                &SessionClient::default(),
                "",
                std::slice::from_ref(recipient),
                raw,
            )
            .await
            .expect("the message is stored");
        let routed = inbound.route_pending().await.expect("routing ends");
        assert_eq!(routed, 1, "one recipient to route");
        let rows = inbound.store.inbound_list(1).await.expect("the outcome");
        let row = rows.first().filter(|r| r.message_id == id);
        let row = row.expect("the message's recipient is the latest");
        assert!(
            !matches!(row.state.as_str(), "received" | "routing") && !row.outcome.is_empty(),
            "{recipient} left without an outcome: {row:?}"
        );
    });
});
