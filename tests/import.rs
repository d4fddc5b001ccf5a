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
use relais::store::targets::{TargetFilter, TargetSort};
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
                (target.stage.as_str(), target.scale.as_deref()),
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
                metropole.scale.as_deref()
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
            lyon.political_colour, "green",
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
