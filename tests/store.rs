//! The store on both databases: scope filters written in SQL, history kept, transactions that leave nothing
//! half-written, concurrent writers, sessions, failed logins and tokens.

mod common;

use common::{Backend, TestDatabase};
use relais::domain::{Role, Stage};
use relais::store::audit::Actor;
use relais::store::stage_changes::StageMove;
use relais::store::target_list::TargetFilter;
use relais::store::{Scope, Store, StoreError};

/// Runs a store test on each backend with a fresh, migrated database.
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            async fn run(backend: Backend) {
                let database = TestDatabase::create(backend).await;
                let store = Store::connect(&database.url, 8).await.expect("connect");
                store.migrate().await.expect("migrate");
                ($body)(store.clone()).await;
                store.close().await;
                database.drop_database().await;
            }
            run_on_both_databases!();
        }
    };
}

const NOW: i64 = 1_795_000_000_000;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

async fn add_target(store: &Store, code: &str) -> i64 {
    let entry = relais::referential::Referential::get()
        .by_code(None, code)
        .expect("in the referential");
    let new = relais::store::targets::NewTarget {
        organisation: relais::store::organisations::NewOrganisation::from_referential(entry),
        stage: Stage::Identified,
        fields: relais::store::targets::TargetFields {
            political_colour: relais::domain::PoliticalColour::Unknown,
            lead_source: relais::domain::LeadSource::Other,
            priority: relais::domain::Priority::Normal,
            ..Default::default()
        },
        contacts: vec![relais::store::people::NewPerson {
            full_name: format!("Élu·e de {}", entry.name),
            emails: vec![format!("elu@{code}.example.org")],
            ..Default::default()
        }],
    };
    store
        .create_target(&new, &Actor::command_line(), NOW)
        .await
        .expect("target")
}

async fn add_relay(store: &Store, territories: &[&str]) -> i64 {
    let territories: Vec<String> = territories.iter().map(|t| t.to_string()).collect();
    let new = relais::store::accounts::NewUser {
        email: "relais@asso.example",
        name: "Relais",
        role: Role::Relay,
        password_hash: "x",
        association_id: None,
        territories: &territories,
    };
    store.create_user(&new, NOW).await.expect("relay")
}

store_test!(
    a_relay_scope_filters_every_pipeline_query,
    |store: Store| async move {
        let marseille = add_target(&store, "13055").await;
        let lyon = add_target(&store, "69123").await;
        let relay = Scope::Relay(add_relay(&store, &["13"]).await);
        let (visible, total) = store
            .list_targets(relay, &TargetFilter::default(), Default::default(), 50, 0)
            .await
            .unwrap();
        assert_eq!((visible.len(), total), (1, 1));
        assert_eq!(visible[0].id, marseille);
        assert!(store.target(relay, lyon).await.unwrap().is_none());
        assert!(store.target(Scope::All, lyon).await.unwrap().is_some());
        let counts = store.count_by_stage(relay).await.unwrap();
        assert_eq!(counts, vec![(Stage::Identified, 1)]);
        assert_eq!(
            store.search_people(relay, "", 50, 0).await.unwrap().len(),
            1
        );
        assert_eq!(
            store
                .search_people(Scope::All, "", 50, 0)
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(
            store
                .search_organisations(relay, "lyon", None, 50, 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.interactions(relay, lyon).await.unwrap().is_empty());
        let change = StageMove {
            to: Stage::Contacted,
            reason: String::new(),
            on_hold_until: None,
            today: today(),
        };
        assert!(matches!(
            store
                .change_stage(relay, lyon, &change, &Actor::command_line(), NOW)
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store
                .target(Scope::All, lyon)
                .await
                .unwrap()
                .unwrap()
                .stage
                .as_str(),
            "identified"
        );
    }
);

store_test!(
    becoming_a_member_opens_one_membership_and_keeps_the_history,
    |store: Store| async move {
        let id = add_target(&store, "42218").await;
        let actor = Actor {
            user_id: None,
            label: "Camille".into(),
        };
        for (i, stage) in [
            Stage::Contacted,
            Stage::InDiscussion,
            Stage::Member,
            Stage::OnHold,
            Stage::Member,
        ]
        .into_iter()
        .enumerate()
        {
            let change = StageMove {
                to: stage,
                reason: format!("étape {i}"),
                on_hold_until: None,
                today: today(),
            };
            store
                .change_stage(Scope::All, id, &change, &actor, NOW + i as i64)
                .await
                .unwrap();
        }
        let history = store.stage_history(Scope::All, id).await.unwrap();
        assert_eq!(history.len(), 6, "creation and five moves");
        assert!(
            history
                .iter()
                .all(|c| c.author_label == "Camille" || c.from_stage.is_none())
        );
        let (members, _) = store
            .list_targets(
                Scope::All,
                &TargetFilter {
                    stage: Some("member".into()),
                    ..Default::default()
                },
                Default::default(),
                10,
                0,
            )
            .await
            .unwrap();
        assert_eq!(members.len(), 1);
        let audit = store.list_audit(Some(("target", id)), 50).await.unwrap();
        assert_eq!(audit.iter().filter(|e| e.action == "stage").count(), 5);
    }
);

store_test!(
    a_duplicate_target_is_refused_and_leaves_nothing_behind,
    |store: Store| async move {
        add_target(&store, "69123").await;
        let before = store
            .search_people(Scope::All, "", 50, 0)
            .await
            .unwrap()
            .len();
        let entry = relais::referential::Referential::get()
            .by_code(None, "69123")
            .unwrap();
        let again = relais::store::targets::NewTarget {
            organisation: relais::store::organisations::NewOrganisation::from_referential(entry),
            stage: Stage::Identified,
            fields: Default::default(),
            contacts: vec![relais::store::people::NewPerson {
                full_name: "Nouveau contact".into(),
                ..Default::default()
            }],
        };
        let error = store
            .create_target(&again, &Actor::command_line(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Conflict(m) if m.contains("Lyon")),
            "{error:?}"
        );
        assert_eq!(
            store
                .search_people(Scope::All, "", 50, 0)
                .await
                .unwrap()
                .len(),
            before,
            "no contact half-written"
        );
    }
);

store_test!(
    concurrent_stage_changes_keep_a_consistent_history,
    |store: Store| async move {
        let id = add_target(&store, "13055").await;
        let stages = [
            Stage::Contacted,
            Stage::InDiscussion,
            Stage::SurveySent,
            Stage::SurveyAnswered,
            Stage::OnHold,
            Stage::Identified,
            Stage::Contacted,
            Stage::InDiscussion,
        ];
        let mut tasks = Vec::new();
        for (i, stage) in stages.into_iter().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let change = StageMove {
                    to: stage,
                    reason: String::new(),
                    on_hold_until: None,
                    today: today(),
                };
                store
                    .change_stage(
                        Scope::All,
                        id,
                        &change,
                        &Actor::command_line(),
                        NOW + i as i64,
                    )
                    .await
            }));
        }
        for task in tasks {
            task.await
                .unwrap()
                .expect("every concurrent change succeeds or is a no-op");
        }
        // In the order they were written, each change starts where the previous one ended: no lost update.
        let mut history = store.stage_history(Scope::All, id).await.unwrap();
        history.sort_by_key(|c| c.id);
        for pair in history.windows(2) {
            assert_eq!(pair[1].from_stage, Some(pair[0].to_stage), "{history:?}");
        }
        let current = store.target(Scope::All, id).await.unwrap().unwrap().stage;
        assert_eq!(history.last().unwrap().to_stage, current);
    }
);

store_test!(
    sessions_expire_and_failed_logins_are_counted_per_account_and_address,
    |store: Store| async move {
        let new = relais::store::accounts::NewUser {
            email: "a@cndh.example",
            name: "A",
            role: Role::Staff,
            password_hash: "x",
            association_id: None,
            territories: &[],
        };
        let user = store.create_user(&new, NOW).await.unwrap();
        store
            .create_session("hash", user, "csrf", NOW, NOW + 1000)
            .await
            .unwrap();
        assert!(
            store
                .session_user("hash", NOW + 999)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .session_user("hash", NOW + 1000)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.delete_expired_sessions(NOW + 1000).await.unwrap(), 1);
        for i in 0..3 {
            store
                .record_login_failure("a@cndh.example", "10.0.0.1", NOW + i)
                .await
                .unwrap();
        }
        store
            .record_login_failure("b@cndh.example", "10.0.0.1", NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .count_login_failures("a@cndh.example", "10.0.0.1", NOW)
                .await
                .unwrap(),
            (3, 4)
        );
        assert_eq!(
            store
                .count_login_failures("a@cndh.example", "10.0.0.2", NOW + 2)
                .await
                .unwrap(),
            (1, 0)
        );
        store.clear_login_failures("a@cndh.example").await.unwrap();
        assert_eq!(
            store
                .count_login_failures("a@cndh.example", "10.0.0.1", NOW)
                .await
                .unwrap(),
            (0, 1)
        );
    }
);

store_test!(
    revoked_tokens_no_longer_authenticate,
    |store: Store| async move {
        let id = store
            .create_api_token("script", Role::Viewer, "token-hash", NOW)
            .await
            .unwrap();
        assert_eq!(
            store
                .use_api_token("token-hash", NOW + 1)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            Some(NOW + 1)
        );
        store.revoke_api_token(id, NOW + 2).await.unwrap();
        assert!(
            store
                .use_api_token("token-hash", NOW + 3)
                .await
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            store.revoke_api_token(id, NOW + 4).await,
            Err(StoreError::NotFound)
        ));
    }
);

store_test!(
    the_dashboard_aggregates_count_follow_ups_and_diversity,
    |store: Store| async move {
        let lyon = add_target(&store, "69123").await;
        let rural = add_target(&store, "01001").await;
        let mut fields = store
            .target(Scope::All, lyon)
            .await
            .unwrap()
            .unwrap()
            .fields();
        fields.next_action_date = Some(today() - chrono::Duration::days(2));
        fields.political_colour = relais::domain::PoliticalColour::Green;
        store
            .update_target(Scope::All, lyon, &fields, &Actor::command_line(), NOW)
            .await
            .unwrap();
        let mut fields = store
            .target(Scope::All, rural)
            .await
            .unwrap()
            .unwrap()
            .fields();
        fields.next_action_date = Some(today() + chrono::Duration::days(3));
        store
            .update_target(Scope::All, rural, &fields, &Actor::command_line(), NOW)
            .await
            .unwrap();
        let follow_ups = store.follow_ups(Scope::All, today()).await.unwrap();
        assert_eq!(follow_ups.len(), 1);
        assert_eq!((follow_ups[0].overdue, follow_ups[0].due_this_week), (1, 1));
        let cells = store.diversity(Scope::All).await.unwrap();
        assert!(
            cells
                .iter()
                .any(|c| c.scale.map(|s| s.as_str()) == Some("large_city")
                    && c.political_colour.as_str() == "green"
                    && c.total == 1)
        );
        assert!(
            cells
                .iter()
                .any(|c| c.scale.map(|s| s.as_str()) == Some("rural_commune") && c.total == 1)
        );
        let activity = store.recent_activity(Scope::All, 10).await.unwrap();
        assert_eq!(activity.len(), 2, "two creations recorded as stage changes");
    }
);

store_test!(
    imported_targets_carry_their_place_for_the_list_filters,
    |store: Store| async move {
        // The batched import inserts targets by its own statements: the place must still be copied onto them.
        let csv = "Collectivité;Code INSEE;Statut\nLyon;69123;Contactée\nVilleurbanne;69266;Contactée\nMarseille;13055;Identifiée\n";
        let (plan, outcome) = relais::import::import_file(
            &store,
            csv.as_bytes(),
            "cibles.csv",
            false,
            relais::store::import::DuplicatePolicy::Skip,
            &Actor::command_line(),
            NOW,
            |_, _| {},
        )
        .await
        .expect("import");
        assert!(plan.is_clean());
        assert_eq!(outcome.expect("written").created, 3);
        let filter =
            |region: Option<&str>, departement: Option<&str>, stage: Option<&str>| TargetFilter {
                region: region.map(str::to_string),
                departement: departement.map(str::to_string),
                stage: stage.map(str::to_string),
                ..Default::default()
            };
        let (rows, total) = store
            .list_targets(
                Scope::All,
                &filter(Some("84"), None, Some("contacted")),
                Default::default(),
                50,
                0,
            )
            .await
            .unwrap();
        assert_eq!(total, 2);
        assert_eq!(
            rows.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            vec!["Lyon", "Villeurbanne"]
        );
        let (_, total) = store
            .list_targets(
                Scope::All,
                &filter(None, Some("13"), None),
                Default::default(),
                50,
                0,
            )
            .await
            .unwrap();
        assert_eq!(total, 1);
        let relay = Scope::Relay(add_relay(&store, &["69"]).await);
        let (rows, total) = store
            .list_targets(relay, &TargetFilter::default(), Default::default(), 50, 0)
            .await
            .unwrap();
        assert_eq!(
            (rows.len(), total),
            (2, 2),
            "the relay scope reads the copied département"
        );
    }
);

store_test!(
    a_target_dossier_holds_everything_its_page_shows_and_respects_the_scope,
    |store: Store| async move {
        let marseille = add_target(&store, "13055").await;
        let actor = Actor::command_line();
        let target = store.target(Scope::All, marseille).await.unwrap().unwrap();
        let second = store
            .create_person(
                Scope::All,
                &relais::store::people::NewPerson {
                    organisation_id: Some(target.organisation_id),
                    full_name: "Adjointe aux solidarités".into(),
                    ..Default::default()
                },
                &actor,
                NOW,
            )
            .await
            .unwrap();
        let contacts = store
            .people_of_organisation(Scope::All, target.organisation_id)
            .await
            .unwrap();
        let everyone: Vec<i64> = contacts.iter().map(|p| p.id).collect();
        assert!(everyone.contains(&second));
        for (day, people) in [(10, everyone.clone()), (12, vec![])] {
            let new = relais::store::interactions::NewInteraction {
                kind: "meeting".into(),
                occurred_on: chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
                summary: format!("Échange du {day}"),
                outcome: String::new(),
                people,
            };
            store
                .record_interaction(Scope::All, marseille, &new, &actor, NOW)
                .await
                .unwrap();
        }
        store
            .add_local_need(Scope::All, marseille, "Médiation scolaire", &actor, NOW)
            .await
            .unwrap();
        let member = StageMove {
            to: Stage::Member,
            reason: String::new(),
            on_hold_until: None,
            today: today(),
        };
        store
            .change_stage(Scope::All, marseille, &member, &actor, NOW + 1)
            .await
            .unwrap();

        let dossier = store
            .target_dossier(Scope::All, marseille)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(dossier.target.stage.as_str(), "member");
        assert_eq!(dossier.contacts.len(), 2);
        let summaries: Vec<(&str, usize)> = dossier
            .interactions
            .iter()
            .map(|(i, people)| (i.summary.as_str(), people.len()))
            .collect();
        assert_eq!(summaries, vec![("Échange du 12", 0), ("Échange du 10", 2)]);
        // The same as the separate reads the API makes.
        let separate = store.interactions(Scope::All, marseille).await.unwrap();
        assert_eq!(separate[1].1, dossier.interactions[1].1);
        let stages: Vec<&str> = dossier
            .history
            .iter()
            .map(|c| c.to_stage.as_str())
            .collect();
        assert_eq!(stages, vec!["member", "identified"]);
        assert_eq!(dossier.needs.len(), 1);
        let (membership, representatives) = dossier.membership.expect("a member");
        assert_eq!(membership.joined_on, today());
        assert!(representatives.is_empty());

        let relay = Scope::Relay(add_relay(&store, &["69"]).await);
        assert!(
            store
                .target_dossier(relay, marseille)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .target_dossier(Scope::All, 999_999)
                .await
                .unwrap()
                .is_none()
        );
    }
);

store_test!(
    the_next_action_order_puts_targets_without_a_date_last,
    |store: Store| async move {
        let actor = Actor::command_line();
        let mut ids = Vec::new();
        for (code, date) in [("13055", None), ("69123", Some(5)), ("31555", Some(2))] {
            let id = add_target(&store, code).await;
            let before = store.target(Scope::All, id).await.unwrap().unwrap();
            let mut fields = before.fields();
            fields.next_action_date =
                date.map(|d| chrono::NaiveDate::from_ymd_opt(2026, 12, d).unwrap());
            store
                .update_target(Scope::All, id, &fields, &actor, NOW)
                .await
                .unwrap();
            ids.push(id);
        }
        let (page, total) = store
            .list_targets(
                Scope::All,
                &TargetFilter::default(),
                relais::store::target_list::TargetSort::NextActionDate,
                50,
                0,
            )
            .await
            .unwrap();
        assert_eq!(total, 3);
        let order: Vec<i64> = page.iter().map(|t| t.id).collect();
        assert_eq!(order, vec![ids[2], ids[1], ids[0]]);
    }
);

store_test!(
    the_demo_gives_each_member_collectivity_its_representatives,
    |store: Store| async move {
        let created = relais::demo::fill(
            &store,
            relais::demo::Volume::DEMO,
            today(),
            NOW,
            2026,
            |_| {},
        )
        .await
        .expect("demo data");
        assert_eq!(created, 150);
        let member = TargetFilter {
            stage: Some("member".into()),
            ..Default::default()
        };
        let (members, total) = store
            .list_targets(Scope::All, &member, Default::default(), 100, 0)
            .await
            .unwrap();
        assert!(total >= 3, "a newcomer sees several members: {total}");
        for target in members {
            let (_, representatives) = store
                .membership_of(Scope::All, target.organisation_id)
                .await
                .unwrap()
                .expect("a membership");
            assert!(
                !representatives.is_empty(),
                "{} has its representatives, so invitations reach officials",
                target.name
            );
        }
    }
);
