//! Two relais instances on loopback, each under its own host name (`club.test`, `cglu.test`, resolved to
//! 127.0.0.1 by `federation.resolve`, with the SSRF guard otherwise on), federate through their staff pages:
//! follow and accept both ways; a public meeting created, changed and cancelled on one appears, changes and
//! disappears on the other (410 Gone afterwards); the second joins it and is recorded on the first; an
//! article and a sheet arrive; membership facts travel only with consent; a partner down for a while gets
//! everything after its return; forged, replayed, unsigned and off-allow-list requests are refused.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::federation::{free_port, post_ok};
use common::{Backend, TestApp};
use http::Method;
use relais::domain::Role;
use relais::federation::keys::ActorKey;
use relais::federation::signature::{ACTIVITY_JSON, sign_request};
use relais::store::Scope;
use url::Url;

/// The settings of one of the two networks: its name, port and group, and both hosts resolved locally.
fn network(
    settings: &mut relais::config::Settings,
    host: &str,
    port: u16,
    group: &str,
    peers: &[(&str, u16)],
) {
    settings.server.listen = SocketAddr::from(([127, 0, 0, 1], port));
    settings.server.public_url = format!("http://{host}:{port}");
    settings.federation.group_name = group.to_string();
    settings.federation.network_name = format!("Réseau {group}");
    for (name, port) in peers {
        settings
            .federation
            .resolve
            .insert(name.to_string(), SocketAddr::from(([127, 0, 0, 1], *port)));
    }
}

/// Waits until `check` holds (20 s at most, a liveness bound).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// A client that reaches both host names on loopback.
fn peer_client(hosts: &[(&str, u16)]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    for (host, port) in hosts {
        builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], *port)));
    }
    builder.build().unwrap()
}

/// The key an instance's Group signs with (from its database).
async fn group_key(app: &TestApp) -> ActorKey {
    let pem = app
        .store
        .actor_key_pem("federation_group_key", || anyhow::bail!("no key yet"))
        .await
        .unwrap();
    ActorKey::from_pem(&pem).unwrap()
}

/// A request signed the draft-cavage way with `key` under `key_id`.
async fn signed(
    client: &reqwest::Client,
    app: &TestApp,
    method: Method,
    url: &str,
    body: Option<&str>,
    key: &ActorKey,
    key_id: &str,
) -> reqwest::Response {
    let url = Url::parse(url).unwrap();
    let headers = sign_request(
        &method,
        &url,
        body.map(|b| (ACTIVITY_JSON, b.as_bytes())),
        key,
        key_id,
        app.clock.now(),
    )
    .unwrap();
    let mut request = client.request(method, url).headers(headers);
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    request.send().await.unwrap()
}

mod two_networks_follow_publish_join_and_refuse_intruders {
    use super::*;

    async fn run(backend: Backend) {
        let (club_port, cglu_port) = (free_port(), free_port());
        let hosts = [("club.test", club_port), ("cglu.test", cglu_port)];
        let club = TestApp::spawn_with(backend, |s| {
            network(s, "club.test", club_port, "club", &hosts)
        })
        .await;
        let cglu = TestApp::spawn_with(backend, |s| {
            network(s, "cglu.test", cglu_port, "cglu", &hosts)
        })
        .await;
        let club_host = format!("club.test:{club_port}");
        let cglu_host = format!("cglu.test:{cglu_port}");
        let club_staff = club.logged_in(Role::Staff, &[]).await;
        let cglu_staff = cglu.logged_in(Role::Staff, &[]).await;

        // Discovery: WebFinger, NodeInfo and the Group, open to anyone.
        let client = peer_client(&hosts);
        let finger: serde_json::Value = client
            .get(format!(
                "http://{club_host}/.well-known/webfinger?resource=acct:club@{club_host}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let group_url = format!("http://{club_host}/g/club");
        assert_eq!(finger["links"][1]["href"], group_url.as_str());
        let group: serde_json::Value = client
            .get(&group_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(group["type"], "Group");
        assert!(
            group["publicKey"]["publicKeyPem"]
                .as_str()
                .unwrap()
                .contains("PUBLIC KEY")
        );
        assert_eq!(
            group["endpoints"]["sharedInbox"],
            format!("http://{club_host}/inbox")
        );
        let nodeinfo: serde_json::Value = client
            .get(format!("http://{club_host}/nodeinfo/2.1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(nodeinfo["software"]["name"], "relais");

        // The CGLU allows the club's host; the club follows the CGLU, whose staff accept.
        post_ok(&cglu_staff, "/reseaux/autoriser", &[("handle", &club_host)]).await;
        post_ok(
            &club_staff,
            "/reseaux/suivre",
            &[("handle", &format!("cglu@{cglu_host}"))],
        )
        .await;
        eventually("the CGLU sees the club's follow request", || async {
            cglu.store
                .partner_by_host(&club_host)
                .await
                .unwrap()
                .unwrap()
                .their_follow
                == "pending"
        })
        .await;
        let page = cglu_staff.get_text("/reseaux").await;
        assert!(
            page.contains("demande en attente") && page.contains("Accepter"),
            "{page}"
        );
        let club_at_cglu = cglu
            .store
            .partner_by_host(&club_host)
            .await
            .unwrap()
            .unwrap();
        post_ok(
            &cglu_staff,
            &format!("/reseaux/{}/accepter", club_at_cglu.id),
            &[],
        )
        .await;
        eventually("the club's follow is accepted", || async {
            club.store
                .partner_by_host(&cglu_host)
                .await
                .unwrap()
                .unwrap()
                .our_follow
                == "accepted"
        })
        .await;
        // The CGLU follows back: the club follows it already, so the request is accepted at once.
        post_ok(
            &cglu_staff,
            "/reseaux/suivre",
            &[("handle", &format!("club@{club_host}"))],
        )
        .await;
        eventually("the CGLU's follow is accepted", || async {
            cglu.store
                .partner_by_host(&club_host)
                .await
                .unwrap()
                .unwrap()
                .our_follow
                == "accepted"
        })
        .await;
        let cglu_at_club = club
            .store
            .partner_by_host(&cglu_host)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cglu_at_club.their_follow, "accepted");

        // A public meeting of the club appears at the CGLU, changes, then disappears.
        post_ok(
            &club_staff,
            "/reunions/series",
            &[
                ("title", "Réunion du club"),
                ("rrule", "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"),
                ("first_start", "2026-12-01T14:00"),
                ("duration_minutes", "120"),
                ("video_url", "https://visio.example/club"),
            ],
        )
        .await;
        let meeting = club
            .store
            .meetings_from(club.clock.now_millis(), 1)
            .await
            .unwrap()[0]
            .clone();
        let preview = club_staff
            .get_text(&format!("/reseaux/apercu/event/{}", meeting.id))
            .await;
        assert!(
            preview.contains("pas publique") && preview.contains("&#34;type&#34;: &#34;Event&#34;"),
            "{preview}"
        );
        post_ok(
            &club_staff,
            "/reseaux/public",
            &[
                ("kind", "event"),
                ("id", &meeting.id.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        let now = cglu.clock.now_millis();
        let year = 366 * 86_400_000;
        eventually("the meeting reaches the CGLU", || async {
            !cglu
                .store
                .remote_events_between(now, now + year)
                .await
                .unwrap()
                .is_empty()
        })
        .await;
        let event = cglu
            .store
            .remote_events_between(now, now + year)
            .await
            .unwrap()[0]
            .clone();
        assert_eq!(event.name, "Réunion du club");
        assert_eq!(event.online_url, "https://visio.example/club");
        assert_eq!(event.starts_at, Some(meeting.starts_at));
        let calendar = cglu_staff.get_text("/reunions").await;
        assert!(
            calendar.contains("Réunions des réseaux partenaires")
                && calendar.contains("Réseau club"),
            "the partner event is in the calendar, with the partner's name: {calendar}"
        );
        post_ok(
            &club_staff,
            &format!("/reunions/{}", meeting.id),
            &[
                ("start", "2026-12-01T15:00"),
                ("duration_minutes", "90"),
                ("theme", "Scolarisation"),
            ],
        )
        .await;
        eventually("the change reaches the CGLU", || async {
            cglu.store
                .remote_object(event.id)
                .await
                .unwrap()
                .unwrap()
                .name
                == "Réunion du club : Scolarisation"
        })
        .await;
        let changed = cglu.store.remote_object(event.id).await.unwrap().unwrap();
        assert_eq!(changed.starts_at, Some(meeting.starts_at + 3_600_000));

        // Someone of the CGLU joins it; the club records the participation and accepts it.
        post_ok(
            &cglu_staff,
            &format!("/reseaux/evenements/{}/participer", event.id),
            &[("message", "Marie Dupont (Ville de Lyon)")],
        )
        .await;
        eventually("the club accepts the participation", || async {
            cglu.store
                .remote_object(event.id)
                .await
                .unwrap()
                .unwrap()
                .join_state
                == "accepted"
        })
        .await;
        let participants = club.store.remote_participants(meeting.id).await.unwrap();
        assert_eq!(participants.len(), 1);
        assert_eq!(participants[0].state, "accepted");
        assert_eq!(participants[0].message, "Marie Dupont (Ville de Lyon)");
        let meeting_page = club_staff
            .get_text(&format!("/reunions/{}", meeting.id))
            .await;
        assert!(
            meeting_page.contains("Marie Dupont (Ville de Lyon)")
                && meeting_page.contains("Réseau cglu")
        );

        // An article (a sent issue) and a sheet arrive.
        let issue = common::newsletter::send_issue(
            &club,
            &club_staff,
            "Lettre de décembre",
            &[(
                "practice",
                "Accueil des enfants en classe",
                "Une bonne pratique **à suivre**.",
            )],
        )
        .await;
        post_ok(
            &club_staff,
            "/reseaux/public",
            &[
                ("kind", "article"),
                ("id", &issue.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        post_ok(
            &club_staff,
            "/ressources",
            &[
                ("title", "Fiche domiciliation"),
                ("url", "https://fiches.example/domiciliation.pdf"),
                ("themes", ""),
                ("description", "Comment domicilier"),
            ],
        )
        .await;
        let sheet = club.store.resources().await.unwrap()[0].id;
        post_ok(
            &club_staff,
            "/reseaux/public",
            &[
                ("kind", "document"),
                ("id", &sheet.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        eventually("the article and the sheet reach the CGLU", || async {
            cglu.store
                .remote_objects("article", 10)
                .await
                .unwrap()
                .len()
                == 1
                && cglu
                    .store
                    .remote_objects("document", 10)
                    .await
                    .unwrap()
                    .len()
                    == 1
        })
        .await;
        let article = cglu.store.remote_objects("article", 10).await.unwrap()[0].clone();
        assert_eq!(article.name, "Lettre de décembre");
        assert!(
            article.content.contains("Une bonne pratique à suivre"),
            "{}",
            article.content
        );
        let document = cglu.store.remote_objects("document", 10).await.unwrap()[0].clone();
        assert_eq!(
            document.attachment_url,
            "https://fiches.example/domiciliation.pdf"
        );
        // Offered to the CGLU's newsletter in one action.
        post_ok(
            &cglu_staff,
            &format!("/reseaux/objets/{}/vers-la-lettre", article.id),
            &[],
        )
        .await;
        let items = cglu.store.unassigned_items().await.unwrap();
        assert!(
            items
                .iter()
                .any(|i| i.title == "Lettre de décembre" && i.body.contains("Réseau club"))
        );

        // Membership facts: a member is named only once it agreed.
        let lyon = club.add_target("69123").await;
        post_ok(
            &club_staff,
            &format!("/targets/{lyon}/stage"),
            &[("stage", "member")],
        )
        .await;
        let organisation = club
            .store
            .target(Scope::All, lyon)
            .await
            .unwrap()
            .unwrap()
            .organisation_id;
        let cglu_key = group_key(&cglu).await;
        let cglu_key_id = format!("http://{cglu_host}/g/cglu#main-key");
        let facts: serde_json::Value = signed(
            &client,
            &club,
            Method::GET,
            &format!("http://{club_host}/g/club/memberships"),
            None,
            &cglu_key,
            &cglu_key_id,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(facts["totalItems"], 0, "no consent, no fact: {facts}");
        post_ok(
            &club_staff,
            "/reseaux/consentement",
            &[
                ("organisation_id", &organisation.to_string()),
                ("consent", "1"),
            ],
        )
        .await;
        eventually("the membership fact reaches the CGLU", || async {
            !cglu
                .store
                .remote_memberships_of("69123")
                .await
                .unwrap()
                .is_empty()
        })
        .await;
        let fact = cglu.store.remote_memberships_of("69123").await.unwrap()[0].clone();
        assert_eq!(fact.network_name, "Réseau club");
        assert_eq!(fact.code_scheme, "FR-INSEE-COG");
        // Lyon is a target of the CGLU too: its page and the dashboard say where else it is a member.
        let lyon_at_cglu = cglu.add_target("69123").await;
        let target_page = cglu_staff
            .get_text(&format!("/targets/{lyon_at_cglu}"))
            .await;
        assert!(
            target_page.contains("Membre aussi de : Réseau club depuis 2026"),
            "{target_page}"
        );
        let dashboard = cglu_staff.get_text("/").await;
        assert!(
            dashboard.contains("Membres aussi de réseaux partenaires"),
            "{dashboard}"
        );

        // Lyon joins the CGLU too, with a representative: the club's event is relayed to it by mail.
        post_ok(
            &cglu_staff,
            &format!("/targets/{lyon_at_cglu}/stage"),
            &[("stage", "member")],
        )
        .await;
        let organisation_at_cglu = cglu
            .store
            .target(Scope::All, lyon_at_cglu)
            .await
            .unwrap()
            .unwrap()
            .organisation_id;
        let contact = cglu
            .store
            .people_of_organisation(Scope::All, organisation_at_cglu)
            .await
            .unwrap()[0]
            .id
            .to_string();
        post_ok(
            &cglu_staff,
            &format!("/targets/{lyon_at_cglu}/membership"),
            &[
                ("joined_on", "23/11/2026"),
                ("themes", ""),
                ("representatives", &contact),
            ],
        )
        .await;
        post_ok(
            &cglu_staff,
            &format!("/reseaux/evenements/{}/relayer", event.id),
            &[],
        )
        .await;
        let relayed = common::lists::messages_of_kind(&cglu, "partner_event").await;
        assert_eq!(relayed.len(), 1, "one relay mail");
        let message = cglu.store.mail_message(relayed[0]).await.unwrap().unwrap();
        assert_eq!(
            message.subject,
            "Réseau club : Réunion du club : Scolarisation"
        );
        assert!(
            message
                .body_text
                .contains("Réseau club, réseau partenaire du club, organise")
        );
        assert_eq!(cglu.store.deliveries_of(relayed[0]).await.unwrap().len(), 1);

        // Cancelling the meeting withdraws it: Delete at the CGLU, 410 Gone at its address.
        post_ok(
            &club_staff,
            &format!("/reunions/{}/annuler", meeting.id),
            &[],
        )
        .await;
        eventually("the cancellation reaches the CGLU", || async {
            cglu.store
                .remote_object(event.id)
                .await
                .unwrap()
                .unwrap()
                .deleted_at
                .is_some()
        })
        .await;
        let gone = signed(
            &client,
            &club,
            Method::GET,
            &event.object_url,
            None,
            &cglu_key,
            &cglu_key_id,
        )
        .await;
        assert_eq!(gone.status(), 410);
        let tombstone: serde_json::Value = gone.json().await.unwrap();
        assert_eq!(tombstone["type"], "Tombstone");
        // Unsigned, nothing but the actors is served.
        let unsigned = client.get(&event.object_url).send().await.unwrap();
        assert_eq!(unsigned.status(), 401);

        // The CGLU goes down; what the club publishes meanwhile reaches it after its return.
        cglu.halt().await;
        post_ok(
            &club_staff,
            "/ressources",
            &[
                ("title", "Fiche scolarisation"),
                ("url", "https://fiches.example/ecole.pdf"),
                ("themes", ""),
                ("description", ""),
            ],
        )
        .await;
        let second = club
            .store
            .resources()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.title == "Fiche scolarisation")
            .unwrap()
            .id;
        post_ok(
            &club_staff,
            "/reseaux/public",
            &[
                ("kind", "document"),
                ("id", &second.to_string()),
                ("public", "1"),
            ],
        )
        .await;
        eventually("the delivery to the stopped CGLU failed once", || async {
            club.store
                .activity_deliveries(Some(cglu_at_club.id), 50)
                .await
                .unwrap()
                .iter()
                .any(|d| {
                    d.state == "pending"
                        && d.attempts >= 1
                        && d.label.contains("Fiche scolarisation")
                })
        })
        .await;
        let page = club_staff.get_text("/reseaux").await;
        assert!(page.contains("en attente"), "{page}");
        let back = cglu
            .spawn_beside(|s| network(s, "cglu.test", cglu_port, "cglu", &hosts))
            .await;
        club.clock.advance(chrono::Duration::minutes(2));
        eventually("the sheet reaches the CGLU after its return", || async {
            back.store
                .remote_objects("document", 10)
                .await
                .unwrap()
                .len()
                == 2
        })
        .await;

        // Intruders at the club's inbox.
        let inbox = format!("http://{club_host}/inbox");
        let activity = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Create",
            "id": format!("http://{cglu_host}/activities/create/essai-1"),
            "actor": format!("http://{cglu_host}/g/cglu"),
            "object": {
                "type": "Article",
                "id": format!("http://{cglu_host}/articles/essai-1"),
                "attributedTo": format!("http://{cglu_host}/g/cglu"),
                "name": "Article d'essai",
                "content": "<p>Bonjour</p>",
            },
        })
        .to_string();
        let unsigned = client
            .post(&inbox)
            .header("content-type", ACTIVITY_JSON)
            .body(activity.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(unsigned.status(), 401);
        let refusal: serde_json::Value = unsigned.json().await.unwrap();
        assert_eq!(refusal["code"], "unsigned");
        // Signed, then its body changed on the way: the digest no longer matches.
        let url = Url::parse(&inbox).unwrap();
        let headers = sign_request(
            &Method::POST,
            &url,
            Some((ACTIVITY_JSON, activity.as_bytes())),
            &cglu_key,
            &cglu_key_id,
            club.clock.now(),
        )
        .unwrap();
        let tampered = client
            .post(&inbox)
            .headers(headers.clone())
            .body(activity.replace("Bonjour", "Au revoir"))
            .send()
            .await
            .unwrap();
        assert_eq!(tampered.status(), 401);
        // Signed by another key than the one named: the signature does not hold.
        let other = ActorKey::generate().unwrap();
        let forged = signed(
            &client,
            &club,
            Method::POST,
            &inbox,
            Some(&activity),
            &other,
            &cglu_key_id,
        )
        .await;
        assert_eq!(forged.status(), 401);
        let refusal: serde_json::Value = forged.json().await.unwrap();
        assert_eq!(refusal["code"], "bad_signature", "{refusal}");
        // From a host off the allow-list: refused before anything is fetched from it.
        let stranger = signed(
            &client,
            &club,
            Method::POST,
            &inbox,
            Some(&activity),
            &other,
            "http://intrus.test:9/g/x#main-key",
        )
        .await;
        assert_eq!(stranger.status(), 403);
        // Genuine, then replayed byte for byte: taken once.
        let first = client
            .post(&inbox)
            .headers(headers.clone())
            .body(activity.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 202);
        let replay = client
            .post(&inbox)
            .headers(headers)
            .body(activity.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 202);
        let replay: serde_json::Value = replay.json().await.unwrap();
        assert_eq!(replay["accepted"], "déjà reçu");
        let received = club
            .store
            .received_activities(Some(cglu_at_club.id), 100)
            .await
            .unwrap();
        assert_eq!(
            received
                .iter()
                .filter(|r| r.activity_id.ends_with("essai-1"))
                .count(),
            1
        );
        // Larger than federation.max_inbox_kb: refused before anything is read into an activity.
        let huge = format!("{{\"padding\": \"{}\"}}", "x".repeat(300 * 1024));
        let oversized = signed(
            &client,
            &club,
            Method::POST,
            &inbox,
            Some(&huge),
            &cglu_key,
            &cglu_key_id,
        )
        .await;
        assert_eq!(oversized.status(), 413);
        // Signed by the CGLU's key but claiming another actor.
        let impostor = activity.replace("/g/cglu\"", "/g/autre\"");
        let claimed = signed(
            &client,
            &club,
            Method::POST,
            &inbox,
            Some(&impostor),
            &cglu_key,
            &cglu_key_id,
        )
        .await;
        assert_eq!(claimed.status(), 401);

        back.halt().await;
        club.stop().await;
        cglu.stop().await;
    }

    run_on_both_databases!();
}
