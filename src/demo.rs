//! Fictitious data: `relais demo` fills a fresh database with a realistic pipeline of 150 targets for a
//! newcomer to try every page; `relais seed` makes the large volume the benchmarks need. Both draw real
//! collectivities from the referential, spread over régions and scales, with invented people and exchanges.

use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use crate::domain::{InteractionKind, LeadSource, PoliticalColour, Priority, Stage};
use crate::referential::{CollectivityKind, Entry, Referential};
use crate::store::audit::Actor;
use crate::store::people::NewPerson;
use crate::store::targets::{
    NewInteraction, NewTarget, StageMove, TargetFields, insert_interaction, insert_target,
};
use crate::store::{Store, StoreResult};

/// How much to create.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    pub targets: usize,
    pub people_per_target: usize,
    pub interactions_per_target: usize,
    pub members: usize,
}

impl Volume {
    pub const DEMO: Volume = Volume {
        targets: 150,
        people_per_target: 2,
        interactions_per_target: 3,
        members: 8,
    };
}

const FIRST_NAMES: &[&str] = &[
    "Camille",
    "Dominique",
    "Nadia",
    "Karim",
    "Sophie",
    "Julien",
    "Fatou",
    "Mathieu",
    "Claire",
    "Yannick",
    "Inès",
    "Thomas",
    "Aïcha",
    "Pierre",
    "Léa",
    "Marc",
    "Sandrine",
    "Olivier",
    "Élodie",
    "Rachid",
];
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre",
    "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard",
    "André", "Mercier",
];
const FUNCTIONS: &[&str] = &[
    "maire",
    "adjoint·e à la solidarité",
    "adjoint·e au logement",
    "conseiller·ère municipal·e",
    "DGS",
    "chargé·e de mission habitat",
    "directeur·rice du CCAS",
    "vice-président·e",
];
const NEXT_ACTIONS: &[&str] = &[
    "Relancer par téléphone",
    "Envoyer la note de présentation",
    "Proposer un rendez-vous",
    "Envoyer le questionnaire",
    "Inviter à la prochaine visio",
    "Envoyer une carte postale",
];
const SUMMARIES: &[&str] = &[
    "Premier contact, intérêt poli",
    "Échange avec le cabinet, à recontacter après le conseil municipal",
    "Présentation du club, très intéressé·e",
    "Message laissé au secrétariat",
    "Rencontre lors d'un colloque",
    "Envoi de la note de cadrage",
    "Questionnaire évoqué, réponse attendue",
];

/// Candidate collectivities: the larger communes first (squats and slums concentrate there), then EPCIs,
/// métropoles and départements, shuffled so régions and scales mix.
fn candidates(rng: &mut StdRng, wanted: usize) -> Vec<&'static Entry> {
    let referential = Referential::get();
    let mut pool: Vec<&Entry> = Vec::new();
    for kind in [
        CollectivityKind::Metropole,
        CollectivityKind::Ca,
        CollectivityKind::Departement,
    ] {
        let mut of_kind: Vec<&Entry> = referential.of_kind(kind).iter().collect();
        of_kind.shuffle(rng);
        pool.extend(of_kind.into_iter().take(wanted / 20 + 2));
    }
    let mut communes: Vec<&Entry> = referential
        .of_kind(CollectivityKind::Commune)
        .iter()
        .collect();
    communes.sort_by_key(|e| std::cmp::Reverse(e.population.unwrap_or(0)));
    let remaining = wanted.saturating_sub(pool.len());
    // Four in five among the larger communes, the rest drawn from the small ones so rural targets exist too.
    let big = (remaining * 4 / 5).min(communes.len());
    pool.extend(&communes[..big]);
    let mut small: Vec<&Entry> = communes[big..].to_vec();
    small.shuffle(rng);
    pool.extend(small.into_iter().take(remaining - big));
    pool.shuffle(rng);
    pool.truncate(wanted);
    pool
}

/// Creates the volume asked for, in transactions of a few hundred targets; returns the targets created.
pub async fn fill(
    store: &Store,
    volume: Volume,
    today: NaiveDate,
    now: i64,
    seed: u64,
    mut progress: impl FnMut(usize),
) -> StoreResult<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let entries = candidates(&mut rng, volume.targets);
    let owners = store.list_owners().await?;
    let actor = Actor {
        user_id: None,
        label: "données de démonstration".into(),
    };
    let mut created = 0;
    for chunk in entries.chunks(250) {
        let mut tx = store.begin().await?;
        for entry in chunk {
            let funnel_index = rng.random_range(0..Stage::FUNNEL.len() - 1);
            let stage = if rng.random_bool(0.08) {
                Stage::Declined
            } else if rng.random_bool(0.05) {
                Stage::OnHold
            } else {
                Stage::FUNNEL[funnel_index]
            };
            let contacts = (0..volume.people_per_target)
                .map(|i| {
                    let first = FIRST_NAMES.choose(&mut rng).copied().unwrap_or("Camille");
                    let last = LAST_NAMES.choose(&mut rng).copied().unwrap_or("Martin");
                    let slug = crate::domain::fold(&format!("{first}.{last}"));
                    NewPerson {
                        full_name: format!("{first} {last}"),
                        function: FUNCTIONS[i % FUNCTIONS.len()].into(),
                        emails: vec![format!(
                            "{slug}.{}@{}.example.org",
                            entry.code.to_lowercase(),
                            crate::domain::fold(&entry.name)
                        )],
                        phones: vec![format!(
                            "0{} {:02} {:02} {:02} {:02}",
                            rng.random_range(1..6),
                            rng.random_range(0..100),
                            rng.random_range(0..100),
                            rng.random_range(0..100),
                            rng.random_range(0..100)
                        )],
                        ..Default::default()
                    }
                })
                .collect();
            let due_in = rng.random_range(-20..40);
            let new = NewTarget {
                organisation: crate::store::organisations::NewOrganisation::from_referential(entry),
                stage,
                fields: TargetFields {
                    owner_id: owners.choose(&mut rng).map(|(id, _)| *id),
                    political_colour: PoliticalColour::ALL
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or(PoliticalColour::Unknown),
                    political_nuance: None,
                    lead_source: LeadSource::ALL
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or(LeadSource::Other),
                    priority: Priority::ALL
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or(Priority::Normal),
                    next_action: NEXT_ACTIONS
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or_default()
                        .into(),
                    next_action_date: Some(today + chrono::Duration::days(due_in)),
                    has_squats: true,
                    notes: String::new(),
                },
                contacts,
            };
            let id = insert_target(&mut tx, &new, &actor, now).await?;
            let target = crate::store::targets::target_in(&mut tx, id).await?;
            for _ in 0..volume.interactions_per_target {
                let interaction = NewInteraction {
                    kind: InteractionKind::ALL
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or(InteractionKind::Email)
                        .as_str()
                        .into(),
                    occurred_on: today - chrono::Duration::days(rng.random_range(1..300)),
                    summary: SUMMARIES
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or_default()
                        .into(),
                    outcome: String::new(),
                    people: vec![],
                };
                insert_interaction(&mut tx, &target, &interaction, &actor, now).await?;
            }
            created += 1;
        }
        tx.commit().await?;
        progress(created);
    }
    // Members go through the regular stage change, so they get their membership and history.
    let (candidates, _) = store
        .list_targets(
            crate::store::Scope::All,
            &crate::store::targets::TargetFilter {
                stage: Some("survey_answered".into()),
                ..Default::default()
            },
            Default::default(),
            volume.members as i64,
            0,
        )
        .await?;
    for target in candidates {
        let change = StageMove {
            to: Stage::Member,
            reason: "Délibération d'adhésion".into(),
            on_hold_until: None,
            today,
        };
        store
            .change_stage(crate::store::Scope::All, target.id, &change, &actor, now)
            .await?;
        // Its contacts represent it, so the meetings' invitations go to officials, not only to staff.
        let representatives: Vec<i64> = store
            .people_of_organisation(crate::store::Scope::All, target.organisation_id)
            .await?
            .iter()
            .map(|person| person.id)
            .collect();
        if let Some((membership, _)) = store
            .membership_of(crate::store::Scope::All, target.organisation_id)
            .await?
            && !representatives.is_empty()
        {
            store
                .update_membership(
                    crate::store::Scope::All,
                    target.organisation_id,
                    membership.joined_on,
                    &membership.themes,
                    &representatives,
                    &actor,
                    now,
                )
                .await?;
        }
    }
    // Statistics of what was just written, so the next pages are planned for this volume at once instead
    // of after the hourly housekeeping.
    store.analyze().await?;
    Ok(created)
}
