//! Spreadsheet import, end to end: files written to disk and read back, planned, applied, and checked in
//! the database. Every test runs once on SQLite and once on PostgreSQL (a throw-away database).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use relais::domain::Role;
use relais::import::{
    DuplicatePolicy, Field, ImportOutcome, ImportPlan, RowStatus, guess_mapping, import_file,
    plan_import, read_table, report_lines,
};
use relais::referential::{CollectivityKind, Referential};
use relais::store::accounts::NewUser;
use relais::store::audit::Actor;
use relais::store::target_list::{TargetFilter, TargetSort};
use relais::store::{Scope, Store};
use sqlx::Connection;

const NOW: i64 = 1_780_000_000_000;

fn postgres_admin_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs `test` on a fresh migrated SQLite file, then on a fresh PostgreSQL database that is dropped
/// afterwards even when the test fails.
async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()), 5)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    test(store.clone()).await;
    store.close().await;

    let admin_url = postgres_admin_url();
    let name = format!("relais_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL must run for these tests");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let result = AssertUnwindSafe(async {
        let store = Store::connect(&url, 5).await.unwrap();
        store.migrate().await.unwrap();
        test(store.clone()).await;
        store.close().await;
    })
    .catch_unwind()
    .await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Writes `bytes` to a file of that name and imports what is read back from disk.
async fn import(
    store: &Store,
    file_name: &str,
    bytes: &[u8],
    dry_run: bool,
    on_duplicate: DuplicatePolicy,
) -> (ImportPlan, Option<ImportOutcome>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    std::fs::write(&path, bytes).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    import_file(
        store,
        &bytes,
        file_name,
        dry_run,
        on_duplicate,
        &Actor::command_line(),
        NOW,
        |_, _| {},
    )
    .await
    .unwrap_or_else(|e| panic!("{file_name}: {e}"))
}

async fn count_targets(store: &Store) -> i64 {
    store
        .list_targets(Scope::All, &TargetFilter::default(), TargetSort::Name, 1, 0)
        .await
        .unwrap()
        .1
}

fn statuses(plan: &ImportPlan) -> Vec<(usize, RowStatus)> {
    plan.rows.iter().map(|r| (r.line, r.status)).collect()
}

#[tokio::test]
async fn xlsx_with_a_numeric_insee_code_and_a_date_cell() {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    let headers = [
        "Collectivité",
        "Code INSEE",
        "Département",
        "Élu·e / Contact",
        "Email",
        "Statut",
        "Échéance",
        "Squats/bidonvilles",
    ];
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    // "01001" as Excel keeps it when the column is numeric: 1001.
    sheet.write_string(1, 0, "L'Abergement-Clémenciat").unwrap();
    sheet.write_number(1, 1, 1001).unwrap();
    sheet.write_string(1, 3, "Daniel Boulon").unwrap();
    sheet.write_string(1, 4, "Maire@Abergement.fr").unwrap();
    sheet.write_string(1, 5, "En discussion").unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 9, 15).unwrap();
    let format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_datetime_with_format(1, 6, &date, &format)
        .unwrap();
    sheet.write_string(1, 7, "oui").unwrap();
    sheet.write_string(2, 0, "Lyon").unwrap();
    sheet.write_string(2, 2, "Rhône").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    on_each_backend(|store| {
        let bytes = bytes.clone();
        async move {
            let (plan, outcome) =
                import(&store, "cibles.xlsx", &bytes, false, DuplicatePolicy::Skip).await;
            assert_eq!(
                statuses(&plan),
                [(2, RowStatus::New), (3, RowStatus::New)],
                "{:#?}",
                report_lines(&plan)
            );
            assert_eq!(
                outcome,
                Some(ImportOutcome {
                    created: 2,
                    updated: 0,
                    skipped: 0
                })
            );
            let target = store
                .target_by_official_code("commune", "01001")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(target.name, "L'Abergement-Clémenciat");
            assert_eq!(
                (target.stage.as_str(), target.scale.map(|s| s.as_str())),
                ("in_discussion", Some("rural_commune"))
            );
            assert_eq!(
                target.next_action_date,
                chrono::NaiveDate::from_ymd_opt(2026, 9, 15)
            );
            assert!(target.has_squats);
            let people = store
                .people_of_organisation(Scope::All, target.organisation_id)
                .await
                .unwrap();
            assert_eq!(people.len(), 1);
            assert_eq!(
                (people[0].full_name.as_str(), people[0].emails()),
                ("Daniel Boulon", vec!["maire@abergement.fr"])
            );
            let lyon = store
                .target_by_official_code("commune", "69123")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (
                    lyon.departement_code.as_deref(),
                    lyon.region_code.as_deref()
                ),
                (Some("69"), Some("84"))
            );
            let audit = store.list_audit(None, 10).await.unwrap();
            assert_eq!(audit.iter().filter(|a| a.action == "import").count(), 1);
        }
    })
    .await;
}

#[tokio::test]
async fn semicolon_csv_with_bom_blank_lines_owner_and_several_emails() {
    let csv = "\u{feff}Collectivité;Code INSEE;Dép.;Contact;Fonction;Courriel;Tél.;Couleur politique;Source;Statut;Priorité;Responsable;Commentaires\n\
               Saint-Denis;;93;Mathieu Hanotin;Maire;\"cabinet@ville-saint-denis.fr; maire@ville-saint-denis.fr\";01 49 33 60 00 / 612345678;PS;Connue du collectif;Contactée;Haute;Camille Martin;Rencontré au salon\n\
               \n\
               \n\
               Métropole de Lyon;200 046 977;;;;;;EELV;;;;camille@club.example;\n";
    on_each_backend(|store| async move {
        let owner = store
            .create_user(
                &NewUser {
                    email: "camille@club.example",
                    name: "Camille Martin",
                    role: Role::Staff,
                    password_hash: "x",
                    association_id: None,
                    territories: &[],
                },
                NOW,
            )
            .await
            .unwrap();
        let (plan, outcome) = import(
            &store,
            "cibles.csv",
            csv.as_bytes(),
            false,
            DuplicatePolicy::Skip,
        )
        .await;
        // Blank lines are skipped but still counted: the métropole is on line 5 of the file.
        assert_eq!(
            statuses(&plan),
            [(2, RowStatus::New), (5, RowStatus::New)],
            "{:#?}",
            report_lines(&plan)
        );
        assert_eq!(outcome.unwrap().created, 2);
        let saint_denis = store
            .target_by_official_code("commune", "93066")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (saint_denis.owner_id, saint_denis.political_colour.as_str()),
            (Some(owner), "left")
        );
        assert_eq!(
            (saint_denis.lead_source.as_str(), saint_denis.stage.as_str()),
            ("known_to_collective", "contacted")
        );
        assert_eq!(
            (saint_denis.priority.as_str(), saint_denis.notes.as_str()),
            ("high", "Rencontré au salon")
        );
        let people = store
            .people_of_organisation(Scope::All, saint_denis.organisation_id)
            .await
            .unwrap();
        assert_eq!(
            people[0].emails(),
            ["cabinet@ville-saint-denis.fr", "maire@ville-saint-denis.fr"]
        );
        assert_eq!(people[0].phones(), ["01 49 33 60 00", "0612345678"]);
        let metropole = store
            .target_by_official_code("metropole", "200046977")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                metropole.owner_id,
                metropole.political_colour.as_str(),
                metropole.scale.map(|s| s.as_str())
            ),
            (Some(owner), "green", Some("metropole"))
        );
    })
    .await;
}

#[tokio::test]
async fn windows_1252_csv_with_accents() {
    let text = "Collectivité,Département,Élu/Contact,Fonction,Statut\nSaint-Étienne,Loire,Gaël Perdriau,Maire,Identifiée\nVillefranche-sur-Saône,Rhône,,,\n";
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    let bytes = bytes.into_owned();
    on_each_backend(|store| {
        let bytes = bytes.clone();
        async move {
            let (plan, outcome) = import(
                &store,
                "export excel.csv",
                &bytes,
                false,
                DuplicatePolicy::Skip,
            )
            .await;
            assert!(plan.is_clean(), "{:#?}", report_lines(&plan));
            assert_eq!(plan.mapping[2], Some(Field::ContactName));
            assert_eq!(outcome.unwrap().created, 2);
            let target = store
                .target_by_official_code("commune", "42218")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(target.name, "Saint-Étienne");
            let people = store
                .people_of_organisation(Scope::All, target.organisation_id)
                .await
                .unwrap();
            assert_eq!(
                (people[0].full_name.as_str(), people[0].function.as_str()),
                ("Gaël Perdriau", "Maire")
            );
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_and_ambiguous_rows_are_listed_and_block_the_import() {
    let csv = "Collectivité;Département\nSaint-Tartempion-les-Oies;\nSaint-Denis;\nSaint-Denis;Seine-Saint-Denis\nValence;26\n";
    on_each_backend(|store| async move {
        let (plan, outcome) = import(
            &store,
            "cibles.csv",
            csv.as_bytes(),
            false,
            DuplicatePolicy::Skip,
        )
        .await;
        assert_eq!(outcome, None);
        assert_eq!(
            statuses(&plan),
            [
                (2, RowStatus::Unknown),
                (3, RowStatus::Ambiguous),
                (4, RowStatus::New),
                (5, RowStatus::New)
            ]
        );
        assert!(!plan.is_clean());
        assert!(
            !plan.rows[0].candidates.is_empty(),
            "an unknown name comes with suggestions"
        );
        let codes: Vec<&str> = plan.rows[1]
            .candidates
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert!(
            codes.contains(&"93066") && codes.contains(&"97411"),
            "{codes:?}"
        );
        assert_eq!(
            plan.rows[2]
                .new_target
                .as_ref()
                .unwrap()
                .organisation
                .official_code
                .as_deref(),
            Some("93066")
        );
        let report = report_lines(&plan).join("\n");
        assert!(
            report.contains("ligne 2 : « Saint-Tartempion-les-Oies » — INCONNUE"),
            "{report}"
        );
        assert!(
            report.contains("ligne 3 : « Saint-Denis » désigne"),
            "{report}"
        );
        let refused = store
            .apply_import(&plan, DuplicatePolicy::Skip, &Actor::command_line(), NOW)
            .await;
        assert!(refused.is_err());
        assert_eq!(count_targets(&store).await, 0);
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_skipped_or_update_only_given_values() {
    let first = "Collectivité;Code INSEE;Couleur politique;Notes;Contact;Email\nLyon;69123;Écologiste;Premier contact;Grégory Doucet;maire@mairie-lyon.fr\n";
    let second = "Collectivité;Code INSEE;Couleur politique;Notes;Contact;Email;Prochaine action\n\
                  Lyon;69123;;Relancé en mai;Sandrine Runel;adjointe@mairie-lyon.fr;Appeler\n\
                  Lyon;;;;Grégory Doucet;MAIRE@mairie-lyon.fr;\n\
                  Rennes;35238;;;;;\n";
    on_each_backend(|store| async move {
        let (_, outcome) = import(
            &store,
            "a.csv",
            first.as_bytes(),
            false,
            DuplicatePolicy::Skip,
        )
        .await;
        assert_eq!(outcome.unwrap().created, 1);

        let (plan, outcome) = import(
            &store,
            "b.csv",
            second.as_bytes(),
            false,
            DuplicatePolicy::Skip,
        )
        .await;
        assert_eq!(
            statuses(&plan),
            [
                (2, RowStatus::Duplicate),
                (3, RowStatus::Duplicate),
                (4, RowStatus::New)
            ]
        );
        let lyon_id = store
            .target_by_official_code("commune", "69123")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert_eq!(plan.rows[0].existing_target_id, Some(lyon_id));
        assert_eq!(
            outcome,
            Some(ImportOutcome {
                created: 1,
                updated: 0,
                skipped: 2
            })
        );
        let lyon = store
            .target_by_official_code("commune", "69123")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lyon.notes, "Premier contact");

        let (plan, outcome) = import(
            &store,
            "c.csv",
            second.as_bytes(),
            false,
            DuplicatePolicy::Update,
        )
        .await;
        assert_eq!(plan.counts.duplicate, 3, "{:#?}", report_lines(&plan));
        // Line 2 changes notes, next action and adds a contact; line 3 repeats what is known; Rennes is unchanged.
        assert_eq!(
            outcome,
            Some(ImportOutcome {
                created: 0,
                updated: 1,
                skipped: 2
            })
        );
        let lyon = store
            .target_by_official_code("commune", "69123")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (lyon.notes.as_str(), lyon.next_action.as_str()),
            ("Relancé en mai", "Appeler")
        );
        assert_eq!(
            lyon.political_colour.as_str(),
            "green",
            "an empty cell does not erase the colour"
        );
        let mut names: Vec<String> = store
            .people_of_organisation(Scope::All, lyon.organisation_id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.full_name)
            .collect();
        names.sort();
        assert_eq!(names, ["Grégory Doucet", "Sandrine Runel"]);
        assert_eq!(count_targets(&store).await, 2);
    })
    .await;
}

#[tokio::test]
async fn duplicate_lines_of_one_file_are_reported() {
    let csv = "Code INSEE;Notes\n69123;a\n\n69123;b\n";
    on_each_backend(|store| async move {
        let (plan, outcome) = import(
            &store,
            "a.csv",
            csv.as_bytes(),
            false,
            DuplicatePolicy::Update,
        )
        .await;
        assert_eq!(plan.rows[1].duplicate_of_line, Some(2));
        assert!(
            report_lines(&plan)
                .iter()
                .any(|l| l == "ligne 4 : Lyon (69123) — doublon de la ligne 2")
        );
        // The second line updates the target the first one created.
        assert_eq!(
            outcome,
            Some(ImportOutcome {
                created: 1,
                updated: 1,
                skipped: 0
            })
        );
        assert_eq!(
            store
                .target_by_official_code("commune", "69123")
                .await
                .unwrap()
                .unwrap()
                .notes,
            "b"
        );
    })
    .await;
}

/// `count` communes of the referential as CSV lines: name, code, contact, email.
fn communes_csv(count: usize) -> String {
    let mut csv = String::from("Collectivité;Code INSEE;Contact;Email;Statut\n");
    let communes = Referential::get().of_kind(CollectivityKind::Commune);
    for (i, commune) in communes.iter().take(count).enumerate() {
        csv.push_str(&format!(
            "\"{}\";{};Contact {i};contact{i}@exemple.fr;Identifiée\n",
            commune.name, commune.code
        ));
    }
    csv
}

#[tokio::test]
async fn one_bad_row_among_a_thousand_writes_nothing() {
    let good = communes_csv(1000);
    let mut lines: Vec<String> = good.lines().map(String::from).collect();
    // Line 502 of the file (row 501 after the header).
    lines[501] = lines[501].replace("@exemple.fr", "@");
    let csv = lines.join("\n");
    on_each_backend(|store| {
        let csv = csv.clone();
        async move {
            let (plan, outcome) = import(
                &store,
                "mille.csv",
                csv.as_bytes(),
                false,
                DuplicatePolicy::Skip,
            )
            .await;
            assert_eq!(outcome, None);
            assert_eq!((plan.counts.new, plan.counts.invalid), (999, 1));
            let report = report_lines(&plan);
            let expected =
                "ligne 502, colonne « Email » : « contact500@ » n'est pas une adresse email valide";
            assert!(
                report.iter().any(|l| l.contains(expected)),
                "{:?}",
                report
                    .iter()
                    .filter(|l| l.contains("502"))
                    .collect::<Vec<_>>()
            );
            assert!(
                store
                    .apply_import(&plan, DuplicatePolicy::Skip, &Actor::command_line(), NOW)
                    .await
                    .is_err()
            );
            assert_eq!(count_targets(&store).await, 0);
        }
    })
    .await;
}

#[tokio::test]
async fn ten_thousand_rows_import_in_one_transaction() {
    let csv = communes_csv(10_000);
    on_each_backend(|store| {
        let csv = csv.clone();
        async move {
            let started = Instant::now();
            let table = read_table(csv.as_bytes(), "dix-mille.csv").unwrap();
            let mapping = guess_mapping(&table.headers);
            let plan = plan_import(&store, &table, &mapping, &[]).await.unwrap();
            let planned = started.elapsed();
            assert!(plan.is_clean(), "{:?}", &report_lines(&plan)[..5]);
            let outcome = store
                .apply_import(&plan, DuplicatePolicy::Skip, &Actor::command_line(), NOW)
                .await
                .unwrap();
            let total = started.elapsed();
            println!(
                "{}: 10,000 rows read and planned in {:.2} s, written in {:.2} s, {:.2} s in all",
                store.backend_name(),
                planned.as_secs_f64(),
                (total - planned).as_secs_f64(),
                total.as_secs_f64()
            );
            assert_eq!(outcome.created, 10_000);
            assert_eq!(count_targets(&store).await, 10_000);
        }
    })
    .await;
}

#[tokio::test]
async fn matching_rules_and_value_errors() {
    let csv = "Collectivité;Code INSEE;Département;Région;Statut;Échéance;Squats;Responsable;Téléphone\n\
               Département du Rhône;;;;;;;;\n\
               Paris;;;;;;;;\n\
               Région Bretagne;53;;;;;;;\n\
               Lyon;69;;;;;;;\n\
               Villeurbane;;Rhône;;;;;;\n\
               Valence;;;Auvergne-Rhône-Alpes;;;;;\n\
               Marseille;13055;;;Perdu;;;;\n\
               Nice;;06;;;demain;peut-être;Inconnu;12\n\
               ;;;;Contactée;;;;\n";
    on_each_backend(|store| async move {
        let (plan, _) = import(&store, "regles.csv", csv.as_bytes(), true, DuplicatePolicy::Skip).await;
        let report = report_lines(&plan).join("\n");
        let status = |line: usize| plan.rows.iter().find(|r| r.line == line).unwrap().status;
        let code = |line: usize| {
            let row = plan.rows.iter().find(|r| r.line == line).unwrap();
            row.new_target.as_ref().and_then(|t| t.organisation.official_code.clone()).unwrap_or_default()
        };
        assert_eq!((status(2), code(2).as_str()), (RowStatus::New, "69"), "{report}");
        assert_eq!(code(3), "75056", "Paris alone means the city: {report}");
        assert_eq!(code(4), "53", "{report}");
        assert_eq!(status(5), RowStatus::Invalid, "a 2-digit code needs a name saying département: {report}");
        assert_eq!(status(6), RowStatus::Unknown);
        let suggested = &plan.rows.iter().find(|r| r.line == 6).unwrap().candidates;
        assert!(suggested.iter().any(|c| c.code == "69266"), "Villeurbanne is suggested: {report}");
        assert_eq!(code(7), "26362", "the région tells the Valence: {report}");
        assert_eq!(status(8), RowStatus::Invalid);
        assert!(report.contains("ligne 8, colonne « Statut » : « Perdu » n'est pas une étape connue (valeurs acceptées : Identifiée"), "{report}");
        assert_eq!(status(9), RowStatus::Invalid);
        for expected in [
            "ligne 9, colonne « Échéance » : « demain » n'est pas une date",
            "ligne 9, colonne « Squats » : « peut-être » n'est pas compris",
            "ligne 9, colonne « Responsable » : « Inconnu » n'est pas un membre de l'équipe",
            "ligne 9, colonne « Téléphone » : « 12 » n'est pas un numéro de téléphone",
        ] {
            assert!(report.contains(expected), "{expected}\n{report}");
        }
        assert_eq!(status(10), RowStatus::Invalid, "a stage without collectivity: {report}");
        assert!(report.contains("ligne 10 : la collectivité n'est indiquée ni par son nom ni par son code"), "{report}");
    })
    .await;
}

/// A pool on a test database, for reading tables directly.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let rows = match self {
            Raw::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            Raw::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
        };
        rows.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every row of the tables an import writes, in id order, as text (import entries of the audit log left
    /// out).
    async fn dump(&self) -> Vec<(&'static str, Vec<String>)> {
        fn text<T: std::fmt::Debug>(rows: Vec<T>) -> Vec<String> {
            rows.iter().map(|row| format!("{row:?}")).collect()
        }
        vec![
            (
                "organisations",
                text(self.rows::<OrganisationRow>(ORGANISATIONS_SQL).await),
            ),
            ("targets", text(self.rows::<TargetRow>(TARGETS_SQL).await)),
            (
                "stage_changes",
                text(self.rows::<StageChangeRow>(STAGE_CHANGES_SQL).await),
            ),
            ("people", text(self.rows::<PersonRow>(PEOPLE_SQL).await)),
            (
                "person_emails",
                text(
                    self.rows::<(i64, String)>(
                        "SELECT person_id, email FROM person_emails ORDER BY person_id, email",
                    )
                    .await,
                ),
            ),
            (
                "person_phones",
                text(
                    self.rows::<(i64, String)>(
                        "SELECT person_id, phone FROM person_phones ORDER BY person_id, phone",
                    )
                    .await,
                ),
            ),
            (
                "audit_log",
                text(
                    self.rows::<AuditRow>(
                        "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log
                         WHERE action <> 'import' ORDER BY id",
                    )
                    .await,
                ),
            ),
        ]
    }
}

const ORGANISATIONS_SQL: &str = "SELECT id, kind, name, collectivity_kind, official_code, departement_code, region_code,
    population, scale, website, notes, search_text, created_at, updated_at FROM organisations ORDER BY id";
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct OrganisationRow {
    id: i64,
    kind: String,
    name: String,
    collectivity_kind: Option<String>,
    official_code: Option<String>,
    departement_code: Option<String>,
    region_code: Option<String>,
    population: Option<i64>,
    scale: Option<String>,
    website: String,
    notes: String,
    search_text: String,
    created_at: i64,
    updated_at: i64,
}
const TARGETS_SQL: &str = "SELECT id, organisation_id, stage, declined_reason, on_hold_until, owner_id, political_colour,
    lead_source, priority, next_action, next_action_date, has_squats, notes, created_at, updated_at FROM targets ORDER BY id";
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct TargetRow {
    id: i64,
    organisation_id: i64,
    stage: String,
    declined_reason: String,
    on_hold_until: Option<chrono::NaiveDate>,
    owner_id: Option<i64>,
    political_colour: String,
    lead_source: String,
    priority: String,
    next_action: String,
    next_action_date: Option<chrono::NaiveDate>,
    has_squats: bool,
    notes: String,
    created_at: i64,
    updated_at: i64,
}
const STAGE_CHANGES_SQL: &str =
    "SELECT id, target_id, from_stage, to_stage, reason, changed_at, author_id, author_label
    FROM stage_changes ORDER BY id";
type StageChangeRow = (
    i64,
    i64,
    Option<String>,
    String,
    String,
    i64,
    Option<i64>,
    String,
);
const PEOPLE_SQL: &str =
    "SELECT id, organisation_id, full_name, function, notes, search_text, created_at, updated_at
    FROM people ORDER BY id";
type PersonRow = (i64, Option<i64>, String, String, String, String, i64, i64);
type AuditRow = (i64, i64, String, String, String, Option<i64>, String);

/// A fresh migrated database: the store and a raw pool on it.
struct TestDb {
    store: Store,
    raw: Raw,
}

/// Runs `test` with two fresh databases of SQLite, then two of PostgreSQL (dropped afterwards even when the
/// test fails): one to import into, one to write the same targets into with the per-row path.
async fn on_each_backend_twice<F, Fut>(test: F)
where
    F: Fn(TestDb, TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = Vec::new();
    for name in ["a", "b"] {
        let url = format!("sqlite://{}/{name}.db", dir.path().display());
        let store = Store::connect(&url, 5).await.unwrap();
        store.migrate().await.unwrap();
        let raw = Raw::Sqlite(sqlx::SqlitePool::connect(&url).await.unwrap());
        sqlite.push(TestDb { store, raw });
    }
    let (b, a) = (sqlite.pop().unwrap(), sqlite.pop().unwrap());
    test(a, b).await;

    let admin_url = postgres_admin_url();
    let names = [1, 2].map(|_| format!("relais_test_{}", uuid::Uuid::new_v4().simple()));
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("PostgreSQL must run for these tests");
    for name in &names {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let result = AssertUnwindSafe(async {
        let mut postgres = Vec::new();
        for name in &names {
            let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
            let store = Store::connect(&url, 5).await.unwrap();
            store.migrate().await.unwrap();
            let raw = Raw::Postgres(sqlx::PgPool::connect(&url).await.unwrap());
            postgres.push(TestDb { store, raw });
        }
        let (b, a) = (postgres.pop().unwrap(), postgres.pop().unwrap());
        let pools = [a.raw_pool(), b.raw_pool()];
        test(a, b).await;
        for pool in pools.into_iter().flatten() {
            pool.close().await;
        }
    })
    .catch_unwind()
    .await;
    for name in &names {
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

impl TestDb {
    fn raw_pool(&self) -> Option<sqlx::PgPool> {
        match &self.raw {
            Raw::Postgres(pool) => Some(pool.clone()),
            Raw::Sqlite(_) => None,
        }
    }
}

/// The same staff member and the same collectivity (recorded, not yet a target) in a fresh database.
async fn seed_owner_and_villeurbanne(store: &Store) -> (i64, i64) {
    let owner = store
        .create_user(
            &NewUser {
                email: "camille@club.example",
                name: "Camille Martin",
                role: Role::Staff,
                password_hash: "x",
                association_id: None,
                territories: &[],
            },
            NOW,
        )
        .await
        .unwrap();
    let villeurbanne = Referential::get()
        .by_code(Some(CollectivityKind::Commune), "69266")
        .unwrap();
    let organisation = store
        .create_organisation(
            &relais::store::organisations::NewOrganisation::from_referential(villeurbanne),
            &Actor::command_line(),
            NOW - 1_000,
        )
        .await
        .unwrap();
    (owner, organisation)
}

/// Hand-written rows with several emails and phones, then `bulk` communes of the referential with one or two
/// emails and a phone each (so the import spans several chunks).
fn contacts_csv(bulk: usize) -> String {
    let mut csv = String::from(
        "Collectivité;Code INSEE;Contact;Fonction;Courriel;Tél.;Couleur politique;Source;Statut;Priorité;\
         Responsable;Prochaine action;Échéance;Squats;Commentaires\n\
         Saint-Denis;93066;Mathieu Hanotin;Maire;\"cabinet@ville-saint-denis.fr; maire@ville-saint-denis.fr\";\
         01 49 33 60 00 / 612345678;PS;Connue du collectif;Contactée;Haute;Camille Martin;Envoyer le questionnaire;\
         15/09/2026;oui;Rencontré au salon\n\
         Métropole de Lyon;200 046 977;;;;;EELV;Coopération décentralisée;En discussion;Basse;;;2026-10-01;non;\n\
         Villeurbanne;69266;Cédric Van Styvendael;Maire;\"presse@villeurbanne.fr, maire@villeurbanne.fr, \
         cabinet@villeurbanne.fr\";04 78 03 67 67;Gauche;;Questionnaire envoyé;;camille@club.example;Relancer;;;\n\
         Rennes;35238;Nathalie Appéré;Maire;maire@ville-rennes.fr;02 23 62 10 10 / 02 23 62 10 10;;Autre;Refus;;;;;\
         oui;Pas de squat connu\n",
    );
    let hand = ["93066", "69266", "35238"];
    let communes = Referential::get().of_kind(CollectivityKind::Commune);
    for (i, commune) in communes
        .iter()
        .filter(|c| !hand.contains(&c.code.as_str()))
        .take(bulk)
        .enumerate()
    {
        let emails = if i % 2 == 0 {
            format!("contact{i}@exemple.fr")
        } else {
            format!("contact{i}@exemple.fr, secretariat{i}@mairie.fr")
        };
        csv.push_str(&format!(
            "\"{}\";{};Contact {i};{};{emails};01 23 45 {:02} {:02};;;;;;;;;\n",
            commune.name,
            commune.code,
            ["Maire", "DGS", "Adjointe"][i % 3],
            i / 100,
            i % 100
        ));
    }
    csv
}

#[tokio::test]
async fn batched_import_stores_every_value_as_the_per_row_path_does() {
    let csv = contacts_csv(1_100);
    on_each_backend_twice(|db, reference| {
        let csv = csv.clone();
        async move {
            let (owner, villeurbanne) = seed_owner_and_villeurbanne(&db.store).await;
            let seeded = seed_owner_and_villeurbanne(&reference.store).await;
            assert_eq!(seeded, (owner, villeurbanne));
            let actor = Actor {
                user_id: Some(owner),
                label: "Camille Martin".into(),
            };
            let table = read_table(csv.as_bytes(), "contacts.csv").unwrap();
            let mapping = guess_mapping(&table.headers);
            let owners = db.store.import_owners().await.unwrap();
            let mut plan = plan_import(&db.store, &table, &mapping, &owners)
                .await
                .unwrap();
            assert!(plan.is_clean(), "{:#?}", &report_lines(&plan)[..5]);
            assert_eq!(plan.counts.new, 1_104);
            // Rennes gets a homonym differing only by its phone, and the same person as head of the métropole:
            // ids must follow the contacts, not whatever order the database returns them in.
            let rennes = plan.rows[3].new_target.as_mut().unwrap();
            let mut homonym = rennes.contacts[0].clone();
            homonym.phones = vec!["02 99 00 00 01".into()];
            rennes.contacts.push(homonym);
            rennes.contacts.push(relais::store::people::NewPerson {
                full_name: "Nathalie Appéré".into(),
                function: "Présidente de Rennes Métropole".into(),
                notes: "Double casquette".into(),
                emails: vec!["presidente@rennesmetropole.fr".into()],
                phones: vec!["02 99 86 60 60".into(), "02 99 86 60 61".into()],
                ..Default::default()
            });

            let progress = std::sync::Mutex::new(Vec::new());
            let outcome = db
                .store
                .apply_import_with_progress(&plan, DuplicatePolicy::Skip, &actor, NOW, |done| {
                    progress.lock().unwrap().push(done)
                })
                .await
                .unwrap();
            assert_eq!(
                outcome,
                ImportOutcome {
                    created: 1_104,
                    updated: 0,
                    skipped: 0
                }
            );
            assert_eq!(progress.into_inner().unwrap(), [500, 1_000, 1_104]);

            assert_rows_match_plan(&db.raw, &plan, &actor, villeurbanne).await;
            assert_some_values_spelled_out(&db.store, owner).await;

            // The per-row path, target by target, writes the very same rows, ids included.
            for row in &plan.rows {
                let new = row.new_target.as_ref().unwrap();
                reference
                    .store
                    .create_target(new, &actor, NOW)
                    .await
                    .unwrap();
            }
            let (batched, per_row) = (db.raw.dump().await, reference.raw.dump().await);
            for ((table, batched), (_, per_row)) in batched.iter().zip(&per_row) {
                assert_eq!(batched.len(), per_row.len(), "{table}");
                for (b, p) in batched.iter().zip(per_row) {
                    assert_eq!(b, p, "{table}");
                }
            }
        }
    })
    .await;
}

/// Every row an import stored, column by column, against the planned row it came from (Villeurbanne's
/// organisation was recorded before and must be left alone).
async fn assert_rows_match_plan(raw: &Raw, plan: &ImportPlan, actor: &Actor, villeurbanne: i64) {
    let organisations: Vec<OrganisationRow> = raw.rows(ORGANISATIONS_SQL).await;
    let targets: Vec<TargetRow> = raw.rows(TARGETS_SQL).await;
    let stage_changes: Vec<StageChangeRow> = raw.rows(STAGE_CHANGES_SQL).await;
    let people: Vec<PersonRow> = raw.rows(PEOPLE_SQL).await;
    let emails: Vec<(i64, String)> = raw.rows("SELECT person_id, email FROM person_emails").await;
    let phones: Vec<(i64, String)> = raw.rows("SELECT person_id, phone FROM person_phones").await;
    let audit: Vec<AuditRow> = raw
        .rows("SELECT id, at, actor, action, entity, entity_id, details FROM audit_log")
        .await;
    let rows = plan.rows.len();
    assert_eq!(
        (organisations.len(), targets.len(), stage_changes.len()),
        (rows, rows, rows)
    );
    // One contact per row but the métropole's, two more for Rennes.
    assert_eq!(people.len(), rows - 1 + 2);
    assert_eq!(emails.len(), 2 + 3 + 1 + 1 + 1 + 1_100 + 550);
    assert_eq!(
        phones.len(),
        2 + 1 + 1 + 1 + 2 + 1_100,
        "a phone given twice is stored once"
    );
    assert_eq!(audit.iter().filter(|a| a.3 == "import").count(), 1);
    let of_person = |values: &[(i64, String)], person: i64| {
        let mut values: Vec<String> = values
            .iter()
            .filter(|(id, _)| *id == person)
            .map(|(_, value)| value.clone())
            .collect();
        values.sort();
        values
    };
    for row in &plan.rows {
        let line = row.line;
        let new = row.new_target.as_ref().unwrap();
        let o = &new.organisation;
        let org = organisations
            .iter()
            .find(|r| {
                (&r.collectivity_kind, &r.official_code) == (&o.collectivity_kind, &o.official_code)
            })
            .unwrap_or_else(|| panic!("no organisation for line {line}"));
        if org.id == villeurbanne {
            assert_eq!(
                (org.name.as_str(), org.created_at),
                ("Villeurbanne", NOW - 1_000)
            );
        } else {
            let code = o.official_code.as_deref().unwrap();
            let expected = OrganisationRow {
                id: org.id,
                kind: o.kind.clone(),
                name: o.name.clone(),
                collectivity_kind: o.collectivity_kind.clone(),
                official_code: o.official_code.clone(),
                departement_code: o.departement_code.clone(),
                region_code: o.region_code.clone(),
                population: o.population,
                scale: o.scale.map(|s| s.as_str().to_string()),
                website: String::new(),
                notes: String::new(),
                search_text: relais::domain::search_text(&[&o.name, code]),
                created_at: NOW,
                updated_at: NOW,
            };
            assert_eq!(org, &expected, "line {line}");
        }

        let f = &new.fields;
        let target = targets
            .iter()
            .find(|t| t.organisation_id == org.id)
            .unwrap_or_else(|| panic!("no target for line {line}"));
        let expected = TargetRow {
            id: target.id,
            organisation_id: org.id,
            stage: new.stage.as_str().to_string(),
            declined_reason: String::new(),
            on_hold_until: None,
            owner_id: f.owner_id,
            political_colour: f.political_colour.as_str().to_string(),
            lead_source: f.lead_source.as_str().to_string(),
            priority: f.priority.as_str().to_string(),
            next_action: f.next_action.clone(),
            next_action_date: f.next_action_date,
            has_squats: f.has_squats,
            notes: f.notes.clone(),
            created_at: NOW,
            updated_at: NOW,
        };
        assert_eq!(target, &expected, "line {line}");

        let changes: Vec<&StageChangeRow> =
            stage_changes.iter().filter(|s| s.1 == target.id).collect();
        let first_stage = (
            changes.first().map_or(0, |s| s.0),
            target.id,
            None,
            new.stage.as_str().to_string(),
            String::new(),
            NOW,
            actor.user_id,
            actor.label.clone(),
        );
        assert_eq!(changes, [&first_stage], "line {line}");

        let of_org: Vec<&PersonRow> = people.iter().filter(|p| p.1 == Some(org.id)).collect();
        assert_eq!(of_org.len(), new.contacts.len(), "line {line}");
        for (person, contact) in of_org.iter().zip(&new.contacts) {
            let emails_joined = contact.emails.join(" ");
            let search = relais::domain::search_text(&[
                &contact.full_name,
                &contact.function,
                &emails_joined,
            ]);
            let expected = (
                person.0,
                Some(org.id),
                contact.full_name.clone(),
                contact.function.clone(),
                contact.notes.clone(),
                search,
                NOW,
                NOW,
            );
            assert_eq!(*person, &expected, "line {line}");
            let mut expected = contact.emails.clone();
            expected.sort();
            assert_eq!(of_person(&emails, person.0), expected, "line {line}");
            let mut expected = contact.phones.clone();
            expected.sort();
            expected.dedup();
            assert_eq!(of_person(&phones, person.0), expected, "line {line}");
        }

        let created: Vec<&AuditRow> = audit
            .iter()
            .filter(|a| a.4 == "target" && a.5 == Some(target.id))
            .collect();
        let entry = (
            created.first().map_or(0, |a| a.0),
            NOW,
            actor.label.clone(),
            "create".to_string(),
            "target".to_string(),
            Some(target.id),
            serde_json::json!({"name": o.name, "stage": new.stage}).to_string(),
        );
        assert_eq!(created, [&entry], "line {line}");
    }
}

/// A few values of [`contacts_csv`] spelled out, in case the planner and the writer agreed on a mistake.
async fn assert_some_values_spelled_out(store: &Store, owner: i64) {
    let target = |code: &'static str| async move {
        store
            .target_by_official_code("commune", code)
            .await
            .unwrap()
            .unwrap()
    };
    let saint_denis = target("93066").await;
    assert_eq!(
        (
            saint_denis.stage.as_str(),
            saint_denis.owner_id,
            saint_denis.political_colour.as_str(),
            saint_denis.lead_source.as_str(),
            saint_denis.priority.as_str(),
            saint_denis.next_action.as_str(),
            saint_denis.next_action_date,
            saint_denis.has_squats,
            saint_denis.notes.as_str(),
            saint_denis.departement_code.as_deref(),
        ),
        (
            "contacted",
            Some(owner),
            "left",
            "known_to_collective",
            "high",
            "Envoyer le questionnaire",
            chrono::NaiveDate::from_ymd_opt(2026, 9, 15),
            true,
            "Rencontré au salon",
            Some("93"),
        )
    );
    let people = store
        .people_of_organisation(Scope::All, saint_denis.organisation_id)
        .await
        .unwrap();
    assert_eq!(
        (people.len(), people[0].emails(), people[0].phones()),
        (
            1,
            vec!["cabinet@ville-saint-denis.fr", "maire@ville-saint-denis.fr"],
            vec!["01 49 33 60 00", "0612345678"]
        )
    );

    let rennes = target("35238").await;
    assert_eq!(
        (
            rennes.stage.as_str(),
            rennes.lead_source.as_str(),
            rennes.has_squats
        ),
        ("declined", "other", true)
    );
    let people = store
        .people_of_organisation(Scope::All, rennes.organisation_id)
        .await
        .unwrap();
    let mut contacts: Vec<(&str, &str, Vec<&str>, Vec<&str>)> = people
        .iter()
        .map(|p| {
            (
                p.function.as_str(),
                p.notes.as_str(),
                p.emails(),
                p.phones(),
            )
        })
        .collect();
    contacts.sort();
    let mayor = vec!["maire@ville-rennes.fr"];
    assert_eq!(
        contacts,
        [
            ("Maire", "", mayor.clone(), vec!["02 23 62 10 10"]),
            ("Maire", "", mayor, vec!["02 99 00 00 01"]),
            (
                "Présidente de Rennes Métropole",
                "Double casquette",
                vec!["presidente@rennesmetropole.fr"],
                vec!["02 99 86 60 60", "02 99 86 60 61"]
            )
        ]
    );

    let found = store
        .search_people(Scope::All, "secretariat1@mairie", 10, 0)
        .await
        .unwrap();
    assert!(
        found.iter().any(|p| p.full_name == "Contact 1"),
        "search_text includes the emails"
    );
}

#[tokio::test]
async fn a_collectivity_made_a_target_meanwhile_fails_the_whole_batch() {
    let csv = contacts_csv(20);
    on_each_backend(|store| {
        let csv = csv.clone();
        async move {
            seed_owner_and_villeurbanne(&store).await;
            let owners = store.import_owners().await.unwrap();
            let table = read_table(csv.as_bytes(), "contacts.csv").unwrap();
            let plan = plan_import(&store, &table, &guess_mapping(&table.headers), &owners)
                .await
                .unwrap();
            assert!(plan.is_clean(), "{:#?}", report_lines(&plan));
            // Someone else makes line 7 a target after the plan was made.
            let meanwhile = plan.rows[5].new_target.as_ref().unwrap();
            store
                .create_target(meanwhile, &Actor::command_line(), NOW)
                .await
                .unwrap();
            let error = store
                .apply_import(&plan, DuplicatePolicy::Skip, &Actor::command_line(), NOW)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains(&format!(
                    "{} est déjà une cible",
                    meanwhile.organisation.name
                )),
                "{error}"
            );
            assert_eq!(count_targets(&store).await, 1);
            let saint_denis = store
                .target_by_official_code("commune", "93066")
                .await
                .unwrap();
            assert!(saint_denis.is_none(), "nothing of the import was kept");
        }
    })
    .await;
}
