//! Login throttling that slows guessing without letting anyone lock staff out: failures of one account from
//! one address make that pair wait longer and longer; limits across addresses and across accounts refuse
//! only addresses an account has not logged in from; the client address comes from `X-Forwarded-For` only
//! through a trusted proxy. Each test runs on SQLite and PostgreSQL, with clients on distinct loopback
//! addresses (127.0.0.2, 127.0.0.3, …) standing for distinct machines.

mod common;

use chrono::Duration;
use common::{Backend, PASSWORD, TestApp};
use relais::domain::Role;

const STAFF: &str = "staff@cndh.example";

async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    login_forwarded(app, client, email, password, None).await
}

async fn login_forwarded(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .post(app.url("/login"))
        .form(&[("email", email), ("password", password)]);
    if let Some(chain) = forwarded_for {
        request = request.header("X-Forwarded-For", chain);
    }
    request.send().await.unwrap()
}

/// A browser on the machine with this loopback address.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from(address))
        .build()
        .unwrap()
}

/// The seconds of a 429's `Retry-After`, after checking the page says to wait in French.
async fn refused_for(response: reqwest::Response) -> i64 {
    assert_eq!(response.status(), 429, "expected a refusal");
    let seconds: i64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Trop de tentatives de connexion. Réessayez dans "),
        "{page}"
    );
    seconds
}

mod an_attacker_elsewhere_does_not_lock_the_owner_out {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_user(STAFF, Role::Staff, &[]).await;
        let attacker = client_from([127, 0, 0, 2]);
        let mut failures = 0;
        // Half an hour of guessing from one address, as fast as it is let through.
        let started = app.clock.now();
        while app.clock.now() - started < Duration::minutes(30) {
            let response = login(&app, &attacker, STAFF, "mauvais").await;
            if response.status() == 401 {
                failures += 1;
            } else {
                assert_eq!(response.status(), 429);
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok()?.parse().ok())
                    .unwrap_or(60);
                app.clock.advance(Duration::seconds(wait));
            }
        }
        // The owner, at an address never used before, is not refused.
        let owner = client_from([127, 0, 0, 3]);
        let response = login(&app, &owner, STAFF, PASSWORD).await;
        assert_eq!(response.status(), 303, "the owner logs in from elsewhere");
        assert_eq!(owner.get(app.url("/")).send().await.unwrap().status(), 200);
        // 3 free guesses, then one after 2, 4 … 512 seconds (17 minutes), then a 15-minute wait.
        assert_eq!(failures, 12, "guesses let through in half an hour");
        app.stop().await;
    }

    run_on_both_databases!();
}

mod a_spread_attack_is_stopped_but_not_at_the_owners_address {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.security.login_account_max_failures = 6;
        })
        .await;
        app.create_user(STAFF, Role::Staff, &[]).await;
        // The owner's office, where they logged in last week.
        let response = login(&app, &client_from([127, 0, 0, 3]), STAFF, PASSWORD).await;
        assert_eq!(response.status(), 303);
        app.clock.advance(Duration::days(7));
        // Three machines, two guesses each: none of them waits, together they reach the account's limit.
        for machine in 10..13 {
            let client = client_from([127, 0, 0, machine]);
            for _ in 0..2 {
                let response = login(&app, &client, STAFF, "mauvais").await;
                assert_eq!(response.status(), 401);
            }
        }
        // A new machine gets no guess at all, not even the right password.
        let fresh = client_from([127, 0, 0, 20]);
        let wait = refused_for(login(&app, &fresh, STAFF, PASSWORD).await).await;
        assert_eq!(
            wait,
            60 * 60,
            "until the first of the six failures is an hour old"
        );
        // The owner at the office is let in.
        let office = client_from([127, 0, 0, 3]);
        let response = login(&app, &office, STAFF, PASSWORD).await;
        assert_eq!(
            response.status(),
            303,
            "the owner's own address is not refused"
        );
        // An hour later the new machine may try again.
        app.clock.advance(Duration::minutes(60));
        let response = login(&app, &fresh, STAFF, PASSWORD).await;
        assert_eq!(response.status(), 303);
        app.stop().await;
    }

    run_on_both_databases!();
}

mod failures_of_one_account_from_one_address_wait_longer_and_longer {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_user(STAFF, Role::Staff, &[]).await;
        let here = client_from([127, 0, 0, 2]);
        for attempt in 1..=3 {
            let response = login(&app, &here, STAFF, "mauvais").await;
            assert_eq!(response.status(), 401, "failure {attempt} costs nothing");
        }
        let response = login(&app, &here, STAFF, "mauvais").await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Trop de tentatives de connexion. Réessayez dans 2 secondes."),
            "{page}"
        );
        // While waiting, the password is not even checked.
        assert_eq!(
            refused_for(login(&app, &here, STAFF, PASSWORD).await).await,
            2
        );
        app.clock.advance(Duration::seconds(1));
        assert_eq!(
            refused_for(login(&app, &here, STAFF, "mauvais").await).await,
            1
        );

        // Each failure after a wait doubles the next one, up to 15 minutes (all within the hour that
        // failures count for).
        let mut waits = Vec::new();
        let mut wait = 1;
        for _ in 0..10 {
            app.clock.advance(Duration::seconds(wait));
            let response = login(&app, &here, STAFF, "mauvais").await;
            assert_eq!(response.status(), 401, "tried again after the wait");
            let response = login(&app, &here, STAFF, "mauvais").await;
            if waits.len() == 9 {
                let page = response.text().await.unwrap();
                assert!(page.contains("Réessayez dans 15 minutes."), "{page}");
                break;
            }
            wait = refused_for(response).await;
            waits.push(wait);
        }
        assert_eq!(waits, [4, 8, 16, 32, 64, 128, 256, 512, 900]);

        // Another address is not slowed for that account.
        let elsewhere = client_from([127, 0, 0, 3]);
        let response = login(&app, &elsewhere, STAFF, "mauvais").await;
        assert_eq!(response.status(), 401);

        // After the wait the right password passes, and the pair starts afresh.
        app.clock.advance(Duration::minutes(15));
        let response = login(&app, &here, STAFF, PASSWORD).await;
        assert_eq!(response.status(), 303, "the right password after the wait");
        for attempt in 1..=3 {
            let response = login(&app, &client_from([127, 0, 0, 2]), STAFF, "mauvais").await;
            assert_eq!(response.status(), 401, "failure {attempt} after a success");
        }
        app.stop().await;
    }

    run_on_both_databases!();
}

mod one_address_cannot_try_many_accounts {
    use super::*;

    async fn run(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.create_user("habituee@cndh.example", Role::Staff, &[])
            .await;
        app.create_user("nouveau@cndh.example", Role::Staff, &[])
            .await;
        // A colleague logged in from this address this morning.
        let response = login(
            &app,
            &client_from([127, 0, 0, 2]),
            "habituee@cndh.example",
            PASSWORD,
        )
        .await;
        assert_eq!(response.status(), 303);
        app.clock.advance(Duration::minutes(5));

        let machine = client_from([127, 0, 0, 2]);
        for n in 1..=30 {
            let response =
                login(&app, &machine, &format!("essai{n}@cndh.example"), "mauvais").await;
            assert_eq!(
                response.status(),
                401,
                "failure {n}: one per account costs nothing"
            );
        }
        let wait =
            refused_for(login(&app, &machine, "essai31@cndh.example", "mauvais").await).await;
        assert_eq!(wait, 60 * 60);
        // An account that never logged in from here is refused, right password or not…
        let response = login(&app, &machine, "nouveau@cndh.example", PASSWORD).await;
        assert_eq!(refused_for(response).await, 60 * 60);
        // …while the colleague who works here is not, nor the newcomer elsewhere.
        let colleague = client_from([127, 0, 0, 2]);
        let response = login(&app, &colleague, "habituee@cndh.example", PASSWORD).await;
        assert_eq!(
            response.status(),
            303,
            "someone else's failures lock nobody out"
        );
        let response = login(
            &app,
            &client_from([127, 0, 0, 3]),
            "nouveau@cndh.example",
            PASSWORD,
        )
        .await;
        assert_eq!(response.status(), 303);

        app.clock.advance(Duration::minutes(60));
        let response = login(&app, &machine, "essai31@cndh.example", "mauvais").await;
        assert_eq!(
            response.status(),
            401,
            "the address's failures have left the window"
        );
        app.stop().await;
    }

    run_on_both_databases!();
}

mod x_forwarded_for_counts_only_from_a_trusted_proxy {
    use super::*;

    async fn run(backend: Backend) {
        // No trusted proxy: a client cannot escape its delay by claiming another address each time.
        let app = TestApp::spawn(backend).await;
        app.create_user(STAFF, Role::Staff, &[]).await;
        let client = client_from([127, 0, 0, 1]);
        for n in 1..=3 {
            let claimed = format!("198.51.100.{n}");
            let response = login_forwarded(&app, &client, STAFF, "mauvais", Some(&claimed)).await;
            assert_eq!(response.status(), 401);
        }
        let response =
            login_forwarded(&app, &client, STAFF, "mauvais", Some("198.51.100.99")).await;
        assert_eq!(refused_for(response).await, 2, "X-Forwarded-For is ignored");
        app.stop().await;

        // Behind a proxy on 127.0.0.1: the address it appends is the client.
        let app = TestApp::spawn_with(backend, |settings| {
            settings.server.trusted_proxies =
                vec![relais::web::client::parse_trusted_proxy("127.0.0.1").unwrap()];
        })
        .await;
        app.create_user(STAFF, Role::Staff, &[]).await;
        let proxy = client_from([127, 0, 0, 1]);
        for _ in 1..=3 {
            let response =
                login_forwarded(&app, &proxy, STAFF, "mauvais", Some("198.51.100.7")).await;
            assert_eq!(response.status(), 401);
        }
        let response = login_forwarded(&app, &proxy, STAFF, "mauvais", Some("198.51.100.7")).await;
        assert_eq!(refused_for(response).await, 2, "the forwarded client waits");
        // The same client writing the owner's address first is still the address the proxy saw.
        let chain = "203.0.113.9, 198.51.100.7";
        let response = login_forwarded(&app, &proxy, STAFF, PASSWORD, Some(chain)).await;
        assert_eq!(
            refused_for(response).await,
            2,
            "a spoofed chain changes nothing"
        );
        // A machine that is not a proxy claiming the owner's address fails under its own.
        let impostor = client_from([127, 0, 0, 2]);
        for _ in 1..=3 {
            let response =
                login_forwarded(&app, &impostor, STAFF, "mauvais", Some("203.0.113.9")).await;
            assert_eq!(response.status(), 401);
        }
        assert_eq!(
            refused_for(
                login_forwarded(&app, &impostor, STAFF, "mauvais", Some("203.0.113.9")).await
            )
            .await,
            2
        );
        // The owner, through the proxy from 203.0.113.9, is not slowed by either.
        let owner = TestApp::client();
        let response = login_forwarded(&app, &owner, STAFF, PASSWORD, Some("203.0.113.9")).await;
        assert_eq!(response.status(), 303, "the owner behind the proxy logs in");
        app.stop().await;
    }

    run_on_both_databases!();
}
