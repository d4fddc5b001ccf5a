//! What both fuzz targets share: one relais per fuzz process, set up on first use and kept for every input
//! (migrating a fresh database per input would cost far more than the input itself). It runs on SQLite in a
//! folder of its own with the tests' settings (no DNS; mail relais sends is only queued, as no delivery
//! worker runs) and a manual clock, and holds what makes every route reachable: a discussion list with
//! subscribers, a meeting with an invited speaker, and a delivery whose VERP token the bounce and
//! unsubscribe addresses carry.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use relais::clock::Clock;
use relais::config::Settings;
use relais::domain::EmailAddress;
use relais::domain::mail_kind::MailKind;
use relais::inbound::Inbound;
use relais::store::Store;
use relais::store::discussion::DiscussionList;
use relais::store::meeting_series::NewSeries;
use relais::store::outbox::{ListHeaders, NewMessage, NewRecipient};

/// `mail.from_address`'s domain: every address relais accepts is on it.
pub const DOMAIN: &str = "romeurope.example";
/// The meeting calendar replies may answer (the seeds name it).
pub const MEETING_UID: &str = "reunion-1-1795510800000@romeurope.example";
/// The discussion list's subscribers; the first is also the meeting's speaker.
pub const MEMBERS: [&str; 3] = [
    "maire@lyon.example",
    "adjointe@nantes.example",
    "elu@lille.example",
];

pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub inbound: Inbound,
    /// One address of each kind relais routes differently, in a fixed order.
    pub recipients: Vec<String>,
}

/// The process's relais, set up by the first call.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let folder = database_folder();
        let url = format!("sqlite://{}", folder.join("relais.db").display());
        let mut settings = Settings::for_tests(&url, &folder);
        settings.mail.from_address = format!("club@{DOMAIN}");
        settings.inbound.trusted_authserv_ids = vec![format!("mx.{DOMAIN}")];
        let start = "2026-11-23T09:00:00Z".parse().expect("a date");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (inbound, token) = runtime.block_on(set_up(settings, Clock::manual(start)));
        let recipients = [
            "club",
            "echanges",
            "echanges-join",
            "echanges-leave",
            "echanges-request",
            "lettre",
            "lettre-join",
            &format!("bounces+{token}"),
            &format!("desabonnement+{token}"),
            "bounces+inconnu",
        ]
        .map(|local| format!("{local}@{DOMAIN}"))
        .to_vec();
        World {
            runtime,
            inbound,
            recipients,
        }
    })
}

/// `$TMPDIR/relais-fuzz/<pid>`, empty. Statics are never dropped, so no process removes its own folder:
/// each removes those of processes that are gone (Linux: a live one has `/proc/<pid>`).
fn database_folder() -> PathBuf {
    let parent = std::env::temp_dir().join("relais-fuzz");
    let own = parent.join(std::process::id().to_string());
    for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if entry.path() == own || !PathBuf::from("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    std::fs::create_dir_all(&own).expect("a folder for the database");
    own
}

/// Migrates the database and adds the list, its subscribers, the meeting and a delivery; returns the relais
/// and the delivery's token.
async fn set_up(settings: Settings, clock: Clock) -> (Inbound, String) {
    let store = Store::connect(&settings.database.url, settings.database.max_connections)
        .await
        .expect("database");
    store.migrate().await.expect("migrations");
    let now = clock.now_millis();
    let list = DiscussionList {
        id: 0,
        list_key: "echanges".into(),
        name: "Échanges du club".into(),
        description: String::new(),
        kind: relais::domain::ListKind::Discussion,
        subject_prefix: "[Club]".into(),
        reply_to: relais::domain::ReplyTo::List,
        post_policy: relais::domain::PostPolicy::Members,
        archive: "members".into(),
        max_bytes: 1 << 20,
        personalized: true,
        strip_executables: true,
    };
    store
        .create_discussion_list(&list, now)
        .await
        .expect("list");
    let list = store.mailing_list("echanges").await.unwrap().unwrap();
    let members = MEMBERS.map(|a| (a.to_string(), String::new()));
    store
        .add_subscriptions(&list, &members, "staff", "legitimate_interest", now)
        .await
        .expect("subscribers");

    let series = NewSeries {
        title: "Réunion du club".into(),
        rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
        first_start: "2026-12-01T14:00".into(),
        duration_minutes: 120,
        video_url: String::new(),
        invite_members: false,
        invite_staff: false,
    };
    let series = store.create_series(&series, now).await.expect("series");
    let day = 86_400_000;
    store
        .add_occurrences(series, &[(now + day, now + day + 7_200_000)], DOMAIN, now)
        .await
        .expect("meeting");
    let meeting = store.meetings_from(now, 1).await.unwrap().remove(0);
    assert_eq!(meeting.uid, MEETING_UID, "the seeds name this meeting");
    store
        .add_speaker(meeting.id, MEMBERS[0], "Maire de Lyon", "Lyon", now)
        .await
        .expect("speaker");

    let letter = NewMessage {
        kind: MailKind::Newsletter,
        subject: "Lettre du club".into(),
        body_text: "Bonjour".into(),
        body_html: "<p>Bonjour</p>".into(),
        list: Some(ListHeaders {
            key: "lettre".into(),
            label: "Lettre du club".into(),
            post: None,
        }),
        ..Default::default()
    };
    let reader = NewRecipient {
        address: EmailAddress::parse("lecteur@commune.example").unwrap(),
        name: String::new(),
        person_id: None,
    };
    let message = store
        .enqueue_mail(&letter, &[reader], now)
        .await
        .expect("a mail");
    let delivery = store.deliveries_of(message).await.unwrap()[0].id;
    let token = store
        .delivery_as_claimed(message, delivery)
        .await
        .unwrap()
        .expect("its delivery")
        .token;
    (Inbound::new(store, Arc::new(settings), clock), token)
}
