//! A discussion list for the list tests: an application sending to the capturing sink and signing with DKIM,
//! the list `echanges@romeurope.example` created by staff through the web form, and its subscribers.

use super::sink::{Sink, send_to_port};
use super::{Backend, Staff, TestApp};
use relais::config::Settings;
use relais::domain::Role;

/// An application sending to `sink`, signing with fresh DKIM keys (returns the DNS records `relais dkim
/// generate` printed, for dkimpy), with settings changed by `configure` last.
pub async fn signing_app(
    backend: Backend,
    sink: &Sink,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, String) {
    let port = sink.port;
    let mut records = String::new();
    let app = TestApp::spawn_with(backend, |settings| {
        send_to_port(settings, port);
        settings.inbound.trusted_authserv_ids = vec!["mx.club.example".into()];
        records = relais::mail::dkim::generate(&settings.data_dir, "listes", "romeurope.example")
            .expect("keys generated");
        settings.mail.dkim_rsa_selector = "listes-rsa".into();
        settings.mail.dkim_ed25519_selector = "listes-ed25519".into();
        configure(settings);
    })
    .await;
    (app, records)
}

/// Staff create « Échanges du club » (`echanges`, prefix `[Club]`, replies to the list, members post, members
/// read the archive) with the form's fields overridden or completed by `extra`, and subscribe `addresses`
/// (one a line, « adresse » or « adresse, nom »).
pub async fn echanges(app: &TestApp, extra: &[(&str, &str)], addresses: &str) -> Staff {
    let staff = app.logged_in(Role::Staff, &[]).await;
    let mut fields = vec![
        ("key", "echanges"),
        ("name", "Échanges du club"),
        ("subject_prefix", "[Club]"),
        ("reply_to", "list"),
        ("post_policy", "members"),
        ("archive", "members"),
        ("max_kb", "5120"),
    ];
    for (name, value) in extra {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    let created = staff.post_form("/listes", &fields).await;
    assert_eq!(created.status(), 303, "the list is created");
    let count = addresses.lines().filter(|l| !l.trim().is_empty()).count();
    let page = staff
        .post_form("/listes/echanges/abonnes", &[("addresses", addresses)])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("{count} abonnement(s) ajouté(s)")),
        "{page}"
    );
    staff
}
