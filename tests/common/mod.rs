//! Test harness: start the real application on port 0 with a fresh database (SQLite in a temporary folder, or
//! a PostgreSQL database created for the test and dropped afterwards), a manual clock, and HTTP clients that
//! log in like a person would.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod federation;
pub mod lists;
pub mod newsletter;
pub mod sink;

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use relais::app::Application;
use relais::clock::Clock;
use relais::config::Settings;
use relais::domain::Role;
use relais::store::Store;
use relais::store::accounts::NewUser;
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "un mot de passe solide";
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares one test per backend: `both_backends!(name, |app| async move { … })` makes `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::TestApp::spawn(common::Backend::Sqlite).await;
                ($body)(app.clone()).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = common::TestApp::spawn(common::Backend::Postgres).await;
                ($body)(app.clone()).await;
                app.stop().await;
            }
        }
    };
}

/// Turns the enclosing module's `async fn run(backend: Backend)` into two tests, one per database.
#[macro_export]
macro_rules! run_on_both_databases {
    () => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            run(common::Backend::Sqlite).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            run(common::Backend::Postgres).await
        }
    };
}

/// A fresh database for one test; PostgreSQL databases are dropped by [`TestDatabase::drop_database`].
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary folder");
                let url = format!("sqlite://{}", dir.path().join("relais.db").display());
                TestDatabase {
                    url,
                    backend,
                    postgres_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!("relais_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(POSTGRES_ADMIN_URL)
                    .await
                    .expect("PostgreSQL must listen on 127.0.0.1:5432 with trust authentication (see README)");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
                TestDatabase {
                    url,
                    backend,
                    postgres_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    pub async fn drop_database(&self) {
        if let Some(name) = &self.postgres_name
            && let Ok(admin) = sqlx::PgPool::connect(POSTGRES_ADMIN_URL).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

/// A running relais and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub address: SocketAddr,
    /// The LMTP listener of received mail.
    pub lmtp: SocketAddr,
    pub store: Store,
    pub clock: Clock,
    pub backend: Backend,
    stop: CancellationToken,
    database: std::sync::Arc<TestDatabase>,
    owns_database: bool,
    data_dir: std::sync::Arc<tempfile::TempDir>,
    served: std::sync::Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .expect("valid date")
        .with_timezone(&Utc)
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with settings changed by `configure` first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let database = std::sync::Arc::new(TestDatabase::create(backend).await);
        Self::launch(database, Clock::manual(start_time()), true, configure).await
    }

    /// Another instance of relais on the same database and clock, with its own port and data folder, as
    /// when two servers run side by side or one starts again. Its [`TestApp::stop`] leaves the database
    /// to the first instance.
    pub async fn spawn_beside(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::launch(self.database.clone(), self.clock.clone(), false, configure).await
    }

    async fn launch(
        database: std::sync::Arc<TestDatabase>,
        clock: Clock,
        owns_database: bool,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("data folder");
        let mut settings = Settings::for_tests(&database.url, data_dir.path());
        configure(&mut settings);
        let app = Application::build(settings, clock.clone())
            .await
            .expect("application builds");
        let address = app.local_addr();
        let lmtp = app
            .lmtp_addr()
            .expect("the tests' settings listen for LMTP");
        let store = app.store();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let served = tokio::spawn(async move {
            app.run_until_stopped(token)
                .await
                .expect("application runs");
        });
        TestApp {
            address,
            lmtp,
            store,
            clock,
            backend: database.backend,
            stop,
            database,
            owns_database,
            data_dir: std::sync::Arc::new(data_dir),
            served: std::sync::Arc::new(tokio::sync::Mutex::new(Some(served))),
        }
    }

    /// Stops the server and, for the first instance, drops the test database.
    pub async fn stop(&self) {
        self.halt().await;
        if self.owns_database {
            self.database.drop_database().await;
        }
    }

    /// Stops the server and keeps the database, as when relais is down for a while.
    pub async fn halt(&self) {
        self.stop.cancel();
        if let Some(handle) = self.served.lock().await.take() {
            let _ = handle.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// The database this instance runs on.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// The `.eml` files the folder transport has written so far.
    pub fn written_mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.data_dir().join("outbox")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }

    /// Creates an account directly in the store (the password is [`PASSWORD`]).
    pub async fn create_user(&self, email: &str, role: Role, territories: &[&str]) -> i64 {
        let hash = relais::security::hash_password(PASSWORD).expect("hash");
        let territories: Vec<String> = territories.iter().map(|t| t.to_string()).collect();
        let association_id = if role == Role::Relay {
            let new = relais::store::organisations::NewOrganisation {
                kind: "association".into(),
                name: format!("Association de {email}"),
                ..Default::default()
            };
            Some(
                self.store
                    .create_organisation(
                        &new,
                        &relais::store::audit::Actor::command_line(),
                        self.clock.now_millis(),
                    )
                    .await
                    .expect("association"),
            )
        } else {
            None
        };
        let new = NewUser {
            email,
            name: email.split('@').next().unwrap_or(email),
            role,
            password_hash: &hash,
            association_id,
            territories: &territories,
        };
        self.store
            .create_user(&new, self.clock.now_millis())
            .await
            .expect("user created")
    }

    /// A client with its own cookie jar, without redirects followed (so tests see 303s).
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Creates an account of this role and returns a client logged in with it.
    pub async fn logged_in(&self, role: Role, territories: &[&str]) -> Staff {
        let email = format!(
            "{}-{}@cndh.example",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        let id = self.create_user(&email, role, territories).await;
        let client = Self::client();
        let response = client
            .post(self.url("/login"))
            .form(&[("email", email.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 303, "login of {email} should redirect");
        let mut staff = Staff {
            client,
            app: self.clone(),
            csrf: String::new(),
            user_id: id,
        };
        staff.csrf = staff.read_csrf().await;
        staff
    }

    /// Creates an API token of this role; returns the secret.
    pub async fn api_token(&self, role: Role) -> String {
        let token = relais::security::random_token();
        self.store
            .create_api_token(
                &format!("test {}", role.as_str()),
                role,
                &relais::security::sha256_hex(&token),
                self.clock.now_millis(),
            )
            .await
            .expect("token");
        token
    }

    /// Adds a target through the store, from the referential code of its collectivity.
    pub async fn add_target(&self, code: &str) -> i64 {
        let referential = relais::referential::Referential::get();
        let entry = referential
            .by_code(None, code)
            .unwrap_or_else(|| panic!("{code} in the referential"));
        let new = relais::store::targets::NewTarget {
            organisation: relais::store::organisations::NewOrganisation::from_referential(entry),
            stage: relais::domain::Stage::Identified,
            fields: relais::store::targets::TargetFields {
                political_colour: relais::domain::PoliticalColour::Unknown,
                lead_source: relais::domain::LeadSource::Other,
                priority: relais::domain::Priority::Normal,
                ..Default::default()
            },
            contacts: vec![relais::store::people::NewPerson {
                full_name: format!("Contact de {}", entry.name),
                function: "maire".into(),
                emails: vec![format!("maire@{}.example.org", entry.code.to_lowercase())],
                ..Default::default()
            }],
        };
        self.store
            .create_target(
                &new,
                &relais::store::audit::Actor::command_line(),
                self.clock.now_millis(),
            )
            .await
            .expect("target created")
    }
}

/// A logged-in person of the web app.
pub struct Staff {
    pub client: reqwest::Client,
    pub app: TestApp,
    pub csrf: String,
    pub user_id: i64,
}

impl Staff {
    /// Uploads `bytes` named `name` to the import's preview, as the upload form does; the status and page.
    pub async fn upload_import(&self, name: &str, bytes: Vec<u8>) -> (u16, String) {
        // The token travels as the form's first field, as the page's hidden input sends it: never in the URL.
        let form = reqwest::multipart::Form::new()
            .text("_csrf", self.csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
            )
            .text("on_duplicate", "skip");
        let response = self
            .client
            .post(self.app.url("/import/preview"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    async fn read_csrf(&self) -> String {
        let page = self.get_text("/").await;
        let marker = "name=\"csrf-token\" content=\"";
        let start = page.find(marker).expect("csrf meta tag") + marker.len();
        page[start..]
            .split('"')
            .next()
            .expect("csrf value")
            .to_string()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.app.url(path))
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("body")
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("_csrf", &self.csrf));
        self.client
            .post(self.app.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST")
    }

    /// Posts a form without any CSRF token.
    pub async fn post_form_without_csrf(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.app.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }
}

/// Waits (real time, bounded) until `done` holds for the message's deliveries.
pub async fn wait_for_deliveries(
    app: &TestApp,
    message_id: i64,
    done: impl Fn(&[relais::store::outbox::DeliveryRow]) -> bool,
) -> Vec<relais::store::outbox::DeliveryRow> {
    for _ in 0..600 {
        let rows = app.store.deliveries_of(message_id).await.unwrap();
        if done(&rows) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "deliveries did not settle: {:?}",
        app.store.deliveries_of(message_id).await.unwrap()
    );
}
