//! The staff web app in a real browser: headless Chromium, driven by `tests/browser/board.mjs` (playwright-core),
//! logs in, imports a spreadsheet through the preview, reads the dashboard, drags a card to the "Membre" column
//! of the board and sees the dashboard follow. The database is then checked directly.
//!
//! Needs Node 20, `npm ci --prefix tests/browser` (or `.ci/run`, which does it) and Debian's `chromium`
//! (`apt-get install chromium chromium-driver`; another binary can be named with `RELAIS_CHROMIUM`). Without
//! them this test fails, it never passes silently. Screenshots land in `$CARGO_TARGET_TMPDIR/browser/`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relais::domain::Role;
use relais::store::Scope;
use relais::store::target_list::{TargetFilter, TargetSort};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

const SPREADSHEET: &str = "\
Collectivité;Code INSEE;Département;Statut;Email
Lyon;69123;Rhône;Identifiée;cabinet@mairie-lyon.example.org
Marseille;13055;Bouches-du-Rhône;Contactée;solidarites@marseille.example.org
Saint-Étienne;42218;Loire;Identifiée;contact@saint-etienne.example.org
";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("RELAIS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Fails loudly, saying what to install, when the browser side is missing.
fn check_prerequisites() {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in {}: run `npm ci --prefix tests/browser` (or `.ci/run`, which also \
         installs chromium) before `cargo test`",
        dir.join("node_modules").display()
    );
    let chromium = chromium();
    assert!(
        chromium.is_file(),
        "no Chromium at {}: install Debian's chromium (`apt-get install chromium chromium-driver`, or run \
         `.ci/run`), or name another binary with RELAIS_CHROMIUM",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` (Node 20) must be on PATH for the browser test: {node:?}"
    );
}

/// What the script printed, and how it ended (None: killed after the time limit).
struct ScriptRun {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl ScriptRun {
    /// Fails the test, with what the script printed, unless it ended well.
    fn assert_passed(&self, script: &str, screenshots: &Path) {
        let ending = match self.status {
            Some(status) => format!("exited with {status}"),
            None => format!("was killed after {}s", SCRIPT_TIMEOUT.as_secs()),
        };
        assert!(
            self.status.is_some_and(|s| s.success()),
            "node tests/browser/{script} {ending} after {:.1}s (screenshots in {})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.elapsed.as_secs_f64(),
            screenshots.display(),
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `node tests/browser/<script> …` without blocking the runtime that serves the app, killing it after
/// [`SCRIPT_TIMEOUT`].
async fn run_script(script: &str, args: &[&str], screenshots: &Path) -> ScriptRun {
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(browser_dir().join(script))
        .args(args)
        .env("RELAIS_CHROMIUM", chromium())
        .env("RELAIS_SCREENSHOTS", screenshots)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    ScriptRun {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_imports_a_spreadsheet_and_drags_a_card_to_member() {
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "camille.browser@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;

    let dir = tempfile::tempdir().expect("temporary folder");
    let csv = dir.path().join("suivi-collectivites.csv");
    std::fs::write(&csv, SPREADSHEET).expect("write the spreadsheet");
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    for old in ["board.png", "dashboard.png", "failure.png"] {
        let _ = std::fs::remove_file(screenshots.join(old));
    }

    let base = app.url("");
    let run = run_script(
        "board.mjs",
        &[&base, email, common::PASSWORD, &csv.to_string_lossy()],
        &screenshots,
    )
    .await;
    let report = format!(
        "node tests/browser/board.mjs {} after {:.1}s\n--- stdout ---\n{}\n--- stderr ---\n{}",
        match run.status {
            Some(status) => format!("exited with {status}"),
            None => format!("was killed after {}s", SCRIPT_TIMEOUT.as_secs()),
        },
        run.elapsed.as_secs_f64(),
        run.stdout,
        run.stderr
    );
    println!("{report}");
    assert!(
        run.status.is_some_and(|s| s.success()),
        "the browser script failed (screenshots in {}):\n{report}",
        screenshots.display()
    );
    for shot in ["board.png", "dashboard.png"] {
        assert!(
            screenshots.join(shot).is_file(),
            "{shot} missing in {}",
            screenshots.display()
        );
    }

    // What the browser did is in the database: three targets imported, Lyon now a member.
    let (targets, total) = app
        .store
        .list_targets(
            Scope::All,
            &TargetFilter::default(),
            TargetSort::Name,
            10,
            0,
        )
        .await
        .expect("list targets");
    assert_eq!(total, 3, "three targets imported: {targets:?}");
    let stage_of = |code: &str| {
        targets
            .iter()
            .find(|t| t.official_code.as_deref() == Some(code))
            .unwrap_or_else(|| panic!("{code} imported: {targets:?}"))
    };
    assert_eq!(stage_of("13055").stage.as_str(), "contacted");
    assert_eq!(stage_of("42218").stage.as_str(), "identified");
    let lyon = stage_of("69123");
    assert_eq!(lyon.name, "Lyon");
    assert_eq!(lyon.stage.as_str(), "member", "Lyon moved on the board");
    let history = app
        .store
        .stage_history(Scope::All, lyon.id)
        .await
        .expect("stage history");
    let latest = history.first().expect("a stage change for Lyon");
    assert_eq!(
        (
            latest.from_stage.map(|s| s.as_str()),
            latest.to_stage.as_str()
        ),
        (Some("identified"), "member"),
        "the move is recorded: {history:?}"
    );
    assert_eq!(
        latest.author_label, "camille.browser",
        "the move is signed by the account that made it"
    );
    let audit = app.store.list_audit(None, 50).await.expect("audit log");
    assert!(
        audit.iter().any(|e| e.action == "import"),
        "the import is in the audit log: {audit:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_composes_an_issue_and_a_visitor_subscribes() {
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "lea.lettre@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    // The public form refuses a post sooner than two seconds after it was shown, on the application's
    // clock: keep that clock moving (a second every 100 ms) while the browser works.
    let ticking = {
        let clock = app.clock.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                clock.advance(chrono::Duration::seconds(1));
            }
        })
    };
    let visitor = "visiteur.navigateur@commune.example";
    let run = run_script(
        "newsletter.mjs",
        &[&app.url(""), email, common::PASSWORD, visitor],
        &screenshots,
    )
    .await;
    ticking.abort();
    run.assert_passed("newsletter.mjs", &screenshots);
    let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
    let issues = app.store.issues(list.id).await.unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].state, "ready");
    let (_, items) = app.store.issue(issues[0].id).await.unwrap().unwrap();
    assert_eq!(items.len(), 2);
    let subscription = app
        .store
        .subscription_of("lettre", visitor)
        .await
        .unwrap()
        .expect("the visitor's subscription");
    assert_eq!(subscription.0, "pending");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_builds_an_agenda_and_sees_when_it_goes_out() {
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "ines.reunions@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    // A contact invited to the needs survey, for its phone part.
    app.add_target("69123").await;
    let survey = app.store.survey().await.expect("survey");
    let contact = app
        .store
        .invitable_contacts(survey.id)
        .await
        .expect("contacts")
        .remove(0);
    let invitation = app
        .store
        .invite_to_survey(
            &survey,
            &contact,
            &relais::store::audit::Actor::command_line(),
            app.clock.now_millis(),
            |_| {
                Ok(relais::store::outbox::NewMessage {
                    kind: relais::domain::mail_kind::MailKind::SurveyInvitation,
                    subject: "Recensement".into(),
                    ..Default::default()
                })
            },
        )
        .await
        .expect("invitation")
        .expect("a new invitation");
    let key = relais::mail::unsubscribe::UnsubscribeKey::new(
        &app.store.secret("unsubscribe").await.expect("key"),
    );
    let survey_path = format!(
        "/enquete/{}",
        key.token_for(relais::mail::unsubscribe::Purpose::Survey, invitation)
    );
    let run = run_script(
        "meetings.mjs",
        &[
            &app.url(""),
            email,
            common::PASSWORD,
            "2026-12-01T14:00",
            &survey_path,
        ],
        &screenshots,
    )
    .await;
    run.assert_passed("meetings.mjs", &screenshots);
    // What the browser did is in the database: the first meeting's agenda, ready, nothing sent yet.
    let meeting = app
        .store
        .meetings_from(app.clock.now_millis(), 1)
        .await
        .expect("meetings")
        .remove(0);
    assert!(meeting.agenda_ready);
    assert_eq!(meeting.sent_sequence, None, "it goes seven days before");
    let agenda = app.store.agenda(meeting.id).await.expect("agenda");
    assert_eq!(agenda.len(), 1);
    assert_eq!(agenda[0].presenter, "Ville de Lyon");
    assert_eq!(
        app.store
            .agenda_resources(meeting.id)
            .await
            .expect("resources")
            .len(),
        1
    );
    app.stop().await;
}

/// The Réseaux page in Chromium: a partner's follow request accepted, its event joined and shown in the
/// calendar with its name, its article relayed to the newsletter, a meeting previewed and made public.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_accepts_a_partner_and_sees_its_event_in_the_calendar() {
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "nora.reseaux@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let store = &app.store;
    let now = app.clock.now_millis();
    // A partner network that asked to follow the club, with an event and an article it published.
    let actor = "https://cglu.example/g/inclusion";
    let partner = store
        .allow_partner(
            "cglu.example",
            "Commission CGLU",
            actor,
            "https://cglu.example/inbox",
            now,
        )
        .await
        .unwrap();
    let follow = serde_json::json!({"type": "Follow", "id": "https://cglu.example/follows/1",
        "actor": actor, "object": "http://127.0.0.1/g/club"});
    store
        .set_their_follow(
            partner,
            "pending",
            "https://cglu.example/follows/1",
            actor,
            &follow.to_string(),
        )
        .await
        .unwrap();
    for (kind, url, name, starts) in [
        (
            "event",
            "https://cglu.example/events/1",
            "Commission inclusion sociale",
            Some(now + 10 * 86_400_000),
        ),
        (
            "article",
            "https://cglu.example/articles/1",
            "Retour d'expérience de Barcelone",
            None,
        ),
    ] {
        let object = relais::store::federation_objects::RemoteObject {
            partner_id: partner,
            object_url: url.into(),
            kind: kind.into(),
            attributed_to: actor.into(),
            name: name.into(),
            summary: "Un temps d'échange entre villes.".into(),
            starts_at: starts,
            ends_at: starts.map(|s| s + 7_200_000),
            ..Default::default()
        };
        store.save_remote_object(&object, now).await.unwrap();
    }
    let series = relais::store::meeting_series::NewSeries {
        title: "Réunion du club".into(),
        rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
        first_start: "2026-12-01T14:00".into(),
        duration_minutes: 120,
        video_url: "https://visio.example/club".into(),
        invite_members: true,
        invite_staff: true,
    };
    let series = store.create_series(&series, now).await.unwrap();
    let starts = chrono::DateTime::parse_from_rfc3339("2026-12-01T13:00:00Z")
        .unwrap()
        .timestamp_millis();
    store
        .add_occurrences(series, &[(starts, starts + 7_200_000)], "relais.test", now)
        .await
        .unwrap();
    let meeting = store.meetings_from(now, 1).await.unwrap().remove(0);
    let run = run_script(
        "networks.mjs",
        &[
            &app.url(""),
            email,
            common::PASSWORD,
            &meeting.id.to_string(),
        ],
        &screenshots,
    )
    .await;
    run.assert_passed("networks.mjs", &screenshots);
    // What the browser did is in the database.
    let partner = store.partner(partner).await.unwrap().unwrap();
    assert_eq!(partner.their_follow, "accepted");
    let event = store
        .remote_object_by_url("https://cglu.example/events/1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.join_state, "pending");
    assert_eq!(event.join_message, "Marie Dupont (Ville de Lyon)");
    assert_eq!(
        store.is_public("event", meeting.id).await.unwrap(),
        Some(true)
    );
    assert!(
        store
            .unassigned_items()
            .await
            .unwrap()
            .iter()
            .any(|i| i.title.starts_with("Retour d'expérience"))
    );
    app.stop().await;
}

/// A hostile post in a public archive, opened in Chromium, runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_post_with_scripts_runs_nothing() {
    check_prerequisites();
    let app = common::TestApp::spawn_with(common::Backend::Sqlite, |settings| {
        settings.mail.from_address = "club@romeurope.example".into();
        settings.inbound.trusted_authserv_ids = vec!["mx.club.example".into()];
    })
    .await;
    let now = app.clock.now_millis();
    let list = relais::store::discussion::DiscussionList {
        id: 0,
        list_key: "echanges".into(),
        name: "Échanges".into(),
        description: String::new(),
        kind: relais::domain::ListKind::Discussion,
        subject_prefix: String::new(),
        reply_to: relais::domain::ReplyTo::List,
        post_policy: relais::domain::PostPolicy::Members,
        archive: "public".into(),
        max_bytes: 1 << 20,
        personalized: true,
        strip_executables: true,
    };
    app.store
        .create_discussion_list(&list, now)
        .await
        .expect("list");
    let list = app
        .store
        .mailing_list("echanges")
        .await
        .expect("list")
        .expect("list");
    app.store
        .add_subscriptions(
            &list,
            &[("pirate@lyon.example".into(), String::new())],
            "staff",
            "legitimate_interest",
            now,
        )
        .await
        .expect("subscribed");
    let hostile = "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\r\n\
        From: <pirate@lyon.example>\r\nTo: <echanges@romeurope.example>\r\nSubject: Piège\r\n\
        Message-ID: <piege@lyon.example>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nTexte\r\n\
        --b\r\nContent-Type: text/html\r\n\r\n<p>Bonjour</p><script>window.__pwned=1</script>\
        <img src=\"x\" onerror=\"window.__pwned=2\"><a href=\"javascript:window.__pwned=3\">lien</a>\
        <p onmouseover=\"window.__pwned=4\">survol</p><iframe src=\"javascript:alert(1)\"></iframe>\
        <svg onload=\"window.__pwned=5\"></svg>\r\n--b--\r\n";
    let reply = "Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\r\n\
        From: <pirate@lyon.example>\r\nTo: <echanges@romeurope.example>\r\nSubject: Re: Piège\r\n\
        In-Reply-To: <piege@lyon.example>\r\n\r\nD'accord.\r\n\r\nLe lundi 23 novembre, X a écrit :\r\n> Bonjour\r\n";
    let mut stream = tokio::net::TcpStream::connect(app.lmtp)
        .await
        .expect("lmtp");
    let dialogue = format!(
        "LHLO t\r\nMAIL FROM:<pirate@lyon.example>\r\nRCPT TO:<echanges@romeurope.example>\r\nDATA\r\n{hostile}.\r\n\
         MAIL FROM:<pirate@lyon.example>\r\nRCPT TO:<echanges@romeurope.example>\r\nDATA\r\n{reply}.\r\nQUIT\r\n"
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(dialogue.as_bytes()).await.expect("write");
    let mut replies = String::new();
    stream.read_to_string(&mut replies).await.expect("read");
    let mut thread = None;
    for _ in 0..200 {
        let threads = app.store.threads(list.id, "", 10).await.expect("threads");
        if threads.first().is_some_and(|t| t.3 == 2) {
            thread = Some(threads[0].0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let thread = thread.unwrap_or_else(|| panic!("two posts in one thread: {replies}"));
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let run = run_script(
        "archive.mjs",
        &[&app.url(&format!("/listes/echanges/archives/fils/{thread}"))],
        &screenshots,
    )
    .await;
    run.assert_passed("archive.mjs", &screenshots);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_state_the_consequence_and_a_mistake_is_corrected() {
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "sacha.corrige@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;
    let actor = relais::store::audit::Actor::command_line();
    let now = app.clock.now_millis();
    let target = app.add_target("69123").await;
    app.store
        .record_interaction(
            Scope::All,
            target,
            &relais::store::interactions::NewInteraction {
                kind: "phone_call".into(),
                occurred_on: app.clock.today(),
                summary: "Appel au cabinet".into(),
                outcome: String::new(),
                people: Vec::new(),
            },
            &actor,
            now,
        )
        .await
        .unwrap();
    let list = app.store.mailing_list("lettre").await.unwrap().unwrap();
    let subscribed = app
        .store
        .subscribe_contacts(
            &list,
            relais::store::subscriptions::ContactSelection::Stage(
                relais::domain::Stage::Identified,
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(subscribed, 1);
    let item = app
        .store
        .add_item("legal", "Décret du 2 décembre", "Texte", &actor, now)
        .await
        .unwrap();
    let issue = app
        .store
        .create_issue(list.id, "Lettre n° 4", &[item], &actor, now)
        .await
        .unwrap();
    assert!(app.store.set_issue_ready(issue, true, now).await.unwrap());
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let run = run_script(
        "records.mjs",
        &[
            &app.url(""),
            email,
            common::PASSWORD,
            &target.to_string(),
            &issue.to_string(),
        ],
        &screenshots,
    )
    .await;
    run.assert_passed("records.mjs", &screenshots);
    // The dismissed prompts changed nothing; the accepted one deleted the target.
    let (sent, _) = app.store.issue(issue).await.unwrap().unwrap();
    assert_eq!(
        sent.state, "ready",
        "the dismissed send left the issue ready"
    );
    assert_eq!(app.store.subscribers(list.id).await.unwrap().len(), 1);
    assert!(
        app.store
            .target(Scope::All, target)
            .await
            .unwrap()
            .is_none()
    );
    let audit = app.store.list_audit(None, 20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.entity == "interaction" && e.action == "update"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|e| e.entity == "target" && e.action == "delete" && e.entity_id == Some(target)),
        "{audit:?}"
    );
    app.stop().await;
}

/// The codes of the domain's enums, mail kinds and delivery states, as the page scan looks for them: a code
/// that is also a whole word of some French label ("centre", "email", "test") is left out, since the page
/// rightly shows that word.
fn domain_codes() -> Vec<String> {
    use relais::domain::mail_kind::{DeliveryState, MailKind};
    use relais::domain::{InteractionKind, LeadSource, PoliticalColour, Priority, Stage};
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    pairs.extend(Stage::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(LeadSource::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(PoliticalColour::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(Priority::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(InteractionKind::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(Role::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(MailKind::ALL.iter().map(|v| (v.as_str(), v.label())));
    pairs.extend(DeliveryState::ALL.iter().map(|v| (v.as_str(), v.label())));
    let words: std::collections::HashSet<String> = pairs
        .iter()
        .flat_map(|(_, label)| {
            label
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut codes: Vec<String> = pairs
        .iter()
        .map(|(code, _)| code.to_string())
        .filter(|code| !words.contains(code))
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Logs `email` in with a plain client and reads the session's CSRF token from the page.
async fn staff_client(app: &common::TestApp, email: &str) -> common::Staff {
    let client = common::TestApp::client();
    let response = client
        .post(app.url("/login"))
        .form(&[("email", email), ("password", common::PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303);
    let page = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf-token\" content=\"";
    let start = page.find(marker).expect("csrf meta tag") + marker.len();
    let csrf = page[start..].split('"').next().unwrap().to_string();
    common::Staff {
        client,
        app: app.clone(),
        csrf,
        user_id: 0,
    }
}

/// Every staff page and every public page, with data on each, passes axe-core and shows no internal code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_shows_no_internal_code() {
    use relais::mail::unsubscribe::{Purpose, UnsubscribeKey};
    check_prerequisites();
    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
    let email = "camille.martin@cndh.example";
    app.create_user(email, Role::Staff, &[]).await;
    let staff = staff_client(&app, email).await;
    let ok = |response: reqwest::Response, what: &str| {
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "{what}: {}",
            response.status()
        );
    };

    // Targets at several stages, with their contacts.
    let lyon = app.add_target("69123").await;
    let marseille = app.add_target("13055").await;
    let saint_etienne = app.add_target("42218").await;
    app.add_target("38185").await;
    for (target, stage) in [
        (lyon, "member"),
        (marseille, "contacted"),
        (saint_etienne, "in_discussion"),
    ] {
        let moved = staff
            .post_form(&format!("/targets/{target}/stage"), &[("stage", stage)])
            .await;
        ok(moved, "stage change");
    }
    // The newsletter to the contacts of identified targets and of members, one issue sent.
    for selection in ["identified", "members"] {
        ok(
            staff
                .post_form("/abonnes", &[("selection", selection)])
                .await,
            "subscribe contacts",
        );
    }
    let issue = common::newsletter::send_issue(
        &app,
        &staff,
        "n° 1",
        &[("other", "Brève", "Un mot du club.")],
    )
    .await;
    // A discussion list with a public archive, and a meeting series.
    ok(
        staff
            .post_form(
                "/listes",
                &[
                    ("key", "echanges"),
                    ("name", "Échanges du club"),
                    ("subject_prefix", "[Club]"),
                    ("reply_to", "list"),
                    ("post_policy", "members"),
                    ("archive", "public"),
                    ("max_kb", "5120"),
                ],
            )
            .await,
        "list",
    );
    ok(
        staff
            .post_form(
                "/reunions/series",
                &[
                    ("title", "Réunion du club"),
                    ("cadence", "bimestrielle"),
                    ("ordinal", "1"),
                    ("weekday", "1"),
                    ("rrule", ""),
                    ("first_start", "2026-12-01T14:00"),
                    ("duration_minutes", "120"),
                    ("video_url", "https://visio.example/club"),
                    ("invite_members", "oui"),
                    ("invite_staff", "oui"),
                ],
            )
            .await,
        "meeting series",
    );
    let meeting = app
        .store
        .meetings_from(0, 1)
        .await
        .expect("meetings")
        .remove(0);
    // A survey invitation, for the public form.
    let survey = app.store.survey().await.expect("survey");
    let (contact, invitation) = invite_next_contact(&app, &survey).await;
    // A second contact answers, rating every theme alike: the chart's labels all start at one place.
    let (_, answered) = invite_next_contact(&app, &survey).await;
    let answered = app
        .store
        .survey_invitation(answered)
        .await
        .expect("invitation")
        .expect("the invitation");
    let answer = relais::store::survey::NewAnswer {
        problems: "Raccorder les terrains à l'eau.".into(),
        themes: survey
            .questionnaire
            .themes
            .iter()
            .map(|t| (t.code.clone(), 1, 1))
            .collect(),
        ..Default::default()
    };
    app.store
        .submit_survey(&answered, &answer, app.clock.now_millis())
        .await
        .expect("answer recorded");
    let key = UnsubscribeKey::new(&app.store.secret("unsubscribe").await.expect("key"));
    let message = app
        .store
        .list_mail_messages_of_kind(Some("newsletter"), 1)
        .await
        .expect("messages")
        .remove(0);
    let delivery = app
        .store
        .deliveries_of(message.id)
        .await
        .expect("deliveries")
        .remove(0);
    let person = contact.person_id;
    let target = app
        .store
        .list_targets(Scope::All, &TargetFilter::default(), TargetSort::Name, 1, 0)
        .await
        .expect("targets")
        .0
        .remove(0);

    let staff_pages: Vec<String> = [
        "/",
        "/targets",
        "/targets/new",
        "/board",
        "/people",
        "/organisations",
        "/import",
        "/courriers",
        "/courriers/recus",
        "/listes",
        "/listes/echanges",
        "/abonnes",
        "/lettre",
        "/reunions",
        "/recensement",
        "/recensement/resultats",
        "/access",
        "/audit",
        "/audit?entity=target&action=stage",
    ]
    .iter()
    .map(|p| p.to_string())
    .chain([
        format!("/targets/{lyon}"),
        format!("/people/{person}"),
        format!("/organisations/{}", target.organisation_id),
        format!("/courriers/{}", message.id),
        format!("/lettre/numeros/{issue}"),
        format!("/reunions/{}", meeting.id),
        "/reseaux".to_string(),
        format!("/reseaux/apercu/event/{}", meeting.id),
    ])
    .collect();
    let public_pages = vec![
        "/login".to_string(),
        "/nulle-part".to_string(),
        "/lettre/archives".to_string(),
        format!("/lettre/archives/{issue}"),
        "/abonnement".to_string(),
        format!(
            "/preferences/{}",
            key.token_for(Purpose::Preferences, delivery.id)
        ),
        format!("/desabonnement/{}", key.token(delivery.id)),
        format!("/enquete/{}", key.token_for(Purpose::Survey, invitation)),
        "/listes/echanges/archives".to_string(),
    ];
    let dir = tempfile::tempdir().expect("temporary folder");
    let csv = dir.path().join("suivi.csv");
    std::fs::write(&csv, SPREADSHEET).expect("write the spreadsheet");
    let plan = serde_json::json!({
        "staff": staff_pages,
        "public": public_pages,
        "codes": domain_codes(),
        "spreadsheet": csv,
        "layout": ["/", "/board", "/recensement", "/recensement/resultats", "/audit", "/courriers"],
    });
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).expect("write the plan");
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&screenshots).expect("screenshot folder");
    let run = run_script(
        "pages.mjs",
        &[
            &app.url(""),
            email,
            common::PASSWORD,
            &plan_path.to_string_lossy(),
        ],
        &screenshots,
    )
    .await;
    run.assert_passed("pages.mjs", &screenshots);
    app.stop().await;
}

#[test]
fn the_page_scan_looks_for_the_codes_people_must_not_read() {
    let codes = domain_codes();
    for code in [
        "survey_sent",
        "on_hold",
        "member",
        "list_post",
        "newsletter_test",
        "bounced",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} in {codes:?}");
    }
    // Words a French label itself uses are not codes on a page.
    for word in ["centre", "email", "test"] {
        assert!(!codes.iter().any(|c| c == word), "{word} in {codes:?}");
    }
}

/// Invites to the survey the next contact not yet invited; returns the contact and the invitation's id.
async fn invite_next_contact(
    app: &common::TestApp,
    survey: &relais::store::survey::Survey,
) -> (relais::store::survey::Invitable, i64) {
    let contact = app
        .store
        .invitable_contacts(survey.id)
        .await
        .expect("contacts")
        .into_iter()
        .find(|c| !c.invited)
        .expect("a contact not yet invited");
    let invitation = app
        .store
        .invite_to_survey(
            survey,
            &contact,
            &relais::store::audit::Actor::command_line(),
            app.clock.now_millis(),
            |_| {
                Ok(relais::store::outbox::NewMessage {
                    kind: relais::domain::mail_kind::MailKind::SurveyInvitation,
                    subject: "Recensement des attentes".into(),
                    ..Default::default()
                })
            },
        )
        .await
        .expect("invitation")
        .expect("a new invitation");
    (contact, invitation)
}
