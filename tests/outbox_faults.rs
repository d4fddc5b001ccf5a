//! The outbox under faults (issue 14), on both databases: an instance that starts again hands back the
//! leases its killed run held instead of letting them wait out the lease; a worker renews its leases while
//! a slow relay holds it, so leases can be short; and a relay that refuses connections pauses the whole
//! transport with a growing back-off and one try at a time, instead of charging an attempt to every queued
//! copy and pushing the send to the next retry minutes later.

mod common;

use std::time::Duration;

use common::sink::{Sink, app_sending_to_port, send_to_port};
use common::{Backend, TestApp, wait_for_deliveries as wait_for};
use relais::domain::EmailAddress;
use relais::domain::mail_kind::MailKind;
use relais::store::outbox::{DeliveryRow, NewMessage, NewRecipient};

fn message(subject: &str) -> NewMessage {
    NewMessage {
        kind: MailKind::Newsletter,
        subject: subject.into(),
        body_text: "Bonjour".into(),
        body_html: "<p>Bonjour</p>".into(),
        ..Default::default()
    }
}

fn recipients(count: usize) -> Vec<NewRecipient> {
    (0..count)
        .map(|n| NewRecipient {
            address: EmailAddress::parse(&format!("elu{n}@commune.example")).unwrap(),
            name: String::new(),
            person_id: None,
        })
        .collect()
}

/// A port nothing listens on.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

mod an_instance_starting_again_hands_back_what_its_killed_run_held {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.halt().await;
        // What the killed run left in the database, written over a connection of the test's own.
        let store = relais::store::Store::connect(app.database_url(), 2)
            .await
            .unwrap();
        let now = app.clock.now_millis();
        let id = store
            .enqueue_mail(&message("Ordre du jour"), &recipients(4), now)
            .await
            .unwrap();
        // The killed run held three of them for a minute; another instance holds the fourth.
        let instance = relais::mail::worker::instance_name(app.data_dir());
        let held = store
            .claim_deliveries(&format!("{instance}/tue-0"), now, now + 60_000, 3)
            .await
            .unwrap();
        assert_eq!(held.len(), 3);
        let other = store
            .claim_deliveries("autre-machine-0123456789ab/run-0", now, now + 60_000, 1)
            .await
            .unwrap();
        assert_eq!(other.len(), 1);
        let data_dir = app.data_dir().to_path_buf();
        let again = app
            .spawn_beside(|settings| settings.data_dir = data_dir)
            .await;
        // Without moving the clock: the three go out now, each with one attempt counted.
        let rows = wait_for(&again, id, |rows| {
            rows.iter().filter(|r| r.state == "sent").count() == 3
        })
        .await;
        for row in rows.iter().filter(|r| r.state == "sent") {
            assert_eq!(row.attempts, 1, "{row:?}");
        }
        let other_row = rows.iter().find(|r| r.id == other[0].id).unwrap();
        assert_eq!(
            other_row.state, "queued",
            "another instance's lease is kept"
        );
        assert!(
            again.store.lease_of(other[0].id).await.unwrap().is_some(),
            "still leased by the other instance"
        );
        again.halt().await;
        app.stop().await;
    }

    run_on_both_databases!();
}

mod a_worker_renews_its_leases_while_a_slow_relay_holds_it {
    use super::*;

    async fn run(backend: Backend) {
        // A relay that takes the connection and never greets: the worker waits its 4 s of SMTP timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let app = TestApp::spawn_with(backend, |settings| {
            send_to_port(settings, port);
            settings.mail.lease_seconds = 10;
            settings.mail.smtp.timeout_seconds = 4;
        })
        .await;
        let claimed_at = app.clock.now_millis();
        let id = app
            .store
            .enqueue_mail(&message("Ordre du jour"), &recipients(1), claimed_at)
            .await
            .unwrap();
        let delivery = wait_for(&app, id, |rows| rows[0].attempts == 1).await[0].id;
        let (_, first_lease) = app.store.lease_of(delivery).await.unwrap().unwrap();
        assert_eq!(first_lease, claimed_at + 10_000);
        // Eight seconds of the clock pass while the worker is still waiting for the greeting.
        for _ in 0..4 {
            app.clock.advance(chrono::Duration::seconds(2));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (_, renewed) = app.store.lease_of(delivery).await.unwrap().unwrap();
        assert!(
            renewed >= claimed_at + 8_000 + 10_000 - 4_000,
            "the lease was renewed: {} ms past the claim",
            renewed - claimed_at
        );
        drop(silent);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod a_relay_outage_pauses_the_transport_instead_of_charging_every_copy {
    use super::*;

    async fn run(backend: Backend) {
        let port = free_port();
        let app = app_sending_to_port(backend, port).await;
        let id = app
            .store
            .enqueue_mail(
                &message("Lettre du club"),
                &recipients(200),
                app.clock.now_millis(),
            )
            .await
            .unwrap();
        let charged = |rows: &[DeliveryRow]| rows.iter().filter(|r| r.attempts > 0).count();
        // The first refused connection pauses every worker: at most one copy per worker is charged (those
        // whose connection was already under way), the rest wait uncounted.
        wait_for(&app, id, |rows| charged(rows) > 0).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rows = app.store.deliveries_of(id).await.unwrap();
        let workers = 4;
        assert!(charged(&rows) <= workers, "{} charged", charged(&rows));
        assert!(rows.iter().all(|r| r.state == "queued"));
        let failed = rows.iter().find(|r| r.attempts > 0).unwrap();
        assert!(failed.last_reply.contains("connexion"), "{failed:?}");
        // After the pause one worker tries once, fails, and the pause doubles.
        app.clock.advance(chrono::Duration::seconds(1));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after_try = charged(&app.store.deliveries_of(id).await.unwrap());
        let attempts: i64 = app
            .store
            .deliveries_of(id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.attempts)
            .sum();
        assert!(after_try <= workers + 1, "{after_try} charged");
        assert!(attempts <= workers as i64 + 1, "{attempts} attempts");
        // The relay comes back: once the pause is over, the whole send goes out at once, not minutes later.
        let sink = Sink::start_on(Some(port), &[]).await;
        app.clock.advance(chrono::Duration::seconds(2));
        let rows = wait_for(&app, id, |rows| rows.iter().all(|r| r.state == "sent")).await;
        assert!(rows.iter().all(|r| r.attempts <= 3), "{rows:?}");
        assert_eq!(sink.received().len(), 200);
        app.stop().await;
    }

    run_on_both_databases!();
}
