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
use crate::store::interactions::{NewInteraction, insert_interaction};
use crate::store::people::NewPerson;
use crate::store::stage_changes::StageMove;
use crate::store::targets::{NewTarget, TargetFields, insert_target};
use crate::store::{Store, StoreResult, Tx};

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
    let filling = Filling {
        volume,
        today,
        now,
        owners: store.list_owners().await?,
        actor: Actor {
            user_id: None,
            label: "données de démonstration".into(),
        },
    };
    let mut created = 0;
    for chunk in entries.chunks(250) {
        let mut tx = store.begin().await?;
        for entry in chunk {
            filling.add_target(&mut tx, &mut rng, entry).await?;
            created += 1;
        }
        tx.commit().await?;
        progress(created);
    }
    filling.make_members(store).await?;
    // Statistics of what was just written, so the next pages are planned for this volume at once instead
    // of after the hourly housekeeping.
    store.analyze().await?;
    Ok(created)
}

/// What every invented target shares. The random draws happen in a fixed order, so a seed always gives
/// the same data.
struct Filling {
    volume: Volume,
    today: NaiveDate,
    now: i64,
    /// Staff who may follow a target.
    owners: Vec<(i64, String)>,
    actor: Actor,
}

impl Filling {
    /// One target on `entry`, with its contacts and exchanges.
    async fn add_target(&self, tx: &mut Tx, rng: &mut StdRng, entry: &Entry) -> StoreResult<()> {
        let stage = random_stage(rng);
        let contacts = (0..self.volume.people_per_target)
            .map(|i| invented_contact(rng, entry, i))
            .collect();
        let new = NewTarget {
            organisation: crate::store::organisations::NewOrganisation::from_referential(entry),
            stage,
            fields: self.random_fields(rng),
            contacts,
        };
        let id = insert_target(tx, &new, &self.actor, self.now).await?;
        let target = crate::store::targets::target_in(tx, id).await?;
        for _ in 0..self.volume.interactions_per_target {
            let interaction = NewInteraction {
                kind: InteractionKind::ALL
                    .choose(rng)
                    .copied()
                    .unwrap_or(InteractionKind::Email)
                    .as_str()
                    .into(),
                occurred_on: self.today - chrono::Duration::days(rng.random_range(1..300)),
                summary: SUMMARIES.choose(rng).copied().unwrap_or_default().into(),
                outcome: String::new(),
                people: vec![],
            };
            insert_interaction(tx, &target, &interaction, &self.actor, self.now).await?;
        }
        Ok(())
    }

    /// Owner, colour, source, priority and a next action due within six weeks (or overdue).
    fn random_fields(&self, rng: &mut StdRng) -> TargetFields {
        let due_in = rng.random_range(-20..40);
        TargetFields {
            owner_id: self.owners.choose(rng).map(|(id, _)| *id),
            political_colour: PoliticalColour::ALL
                .choose(rng)
                .copied()
                .unwrap_or(PoliticalColour::Unknown),
            political_nuance: None,
            lead_source: LeadSource::ALL
                .choose(rng)
                .copied()
                .unwrap_or(LeadSource::Other),
            priority: Priority::ALL
                .choose(rng)
                .copied()
                .unwrap_or(Priority::Normal),
            next_action: NEXT_ACTIONS.choose(rng).copied().unwrap_or_default().into(),
            next_action_date: Some(self.today + chrono::Duration::days(due_in)),
            has_squats: true,
            notes: String::new(),
        }
    }

    /// Makes members of a few targets that answered the survey. They go through the regular stage change,
    /// so they get their membership and history.
    async fn make_members(&self, store: &Store) -> StoreResult<()> {
        let (candidates, _) = store
            .list_targets(
                crate::store::Scope::All,
                &crate::store::target_list::TargetFilter {
                    stage: Some("survey_answered".into()),
                    ..Default::default()
                },
                Default::default(),
                self.volume.members as i64,
                0,
            )
            .await?;
        for target in candidates {
            let change = StageMove {
                to: Stage::Member,
                reason: "Délibération d'adhésion".into(),
                on_hold_until: None,
                today: self.today,
            };
            store
                .change_stage(
                    crate::store::Scope::All,
                    target.id,
                    &change,
                    &self.actor,
                    self.now,
                )
                .await?;
            self.represent(store, target.organisation_id).await?;
        }
        Ok(())
    }

    /// A member's contacts represent it, so the meetings' invitations go to officials, not only to staff.
    async fn represent(&self, store: &Store, organisation_id: i64) -> StoreResult<()> {
        let representatives: Vec<i64> = store
            .people_of_organisation(crate::store::Scope::All, organisation_id)
            .await?
            .iter()
            .map(|person| person.id)
            .collect();
        if let Some((membership, _)) = store
            .membership_of(crate::store::Scope::All, organisation_id)
            .await?
            && !representatives.is_empty()
        {
            store
                .update_membership(
                    crate::store::Scope::All,
                    organisation_id,
                    membership.joined_on,
                    &membership.themes,
                    &representatives,
                    &self.actor,
                    self.now,
                )
                .await?;
        }
        Ok(())
    }
}

/// Mostly a step of the funnel; some declined, a few on hold.
fn random_stage(rng: &mut StdRng) -> Stage {
    let funnel_index = rng.random_range(0..Stage::FUNNEL.len() - 1);
    if rng.random_bool(0.08) {
        Stage::Declined
    } else if rng.random_bool(0.05) {
        Stage::OnHold
    } else {
        Stage::FUNNEL[funnel_index]
    }
}

/// The `i`-th contact of the collectivity `entry`: an invented name, a function, an e-mail and a phone.
fn invented_contact(rng: &mut StdRng, entry: &Entry, i: usize) -> NewPerson {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Camille");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Martin");
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
}
