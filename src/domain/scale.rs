//! The scale of a collectivity, derived from its kind and population.
//!
//! The club wants a pipeline that spans every scale, from the rural commune to the région. Thresholds (also in
//! `docs/ARCHITECTURE.md`): a commune under 2,000 inhabitants is rural (INSEE's classic threshold); under 20,000 a
//! small town; under 100,000 a medium town; from 100,000 a large city. Intercommunalities (CC, CA, CU) form one
//! scale, métropoles another, then départements and régions.

use super::code_enum;
use crate::referential::CollectivityKind;

code_enum! {
    /// Scale of a collectivity, for the diversity matrix and the filters.
    Scale {
        RuralCommune => "rural_commune", "Commune rurale" | "rurale" | "village";
        SmallTown => "small_town", "Petite ville";
        MediumTown => "medium_town", "Ville moyenne";
        LargeCity => "large_city", "Grande ville";
        Intercommunality => "intercommunality", "Intercommunalité" | "interco" | "EPCI";
        Metropole => "metropole", "Métropole";
        Departement => "departement", "Département";
        Region => "region", "Région";
    }
}

pub const RURAL_BELOW: i64 = 2_000;
pub const SMALL_TOWN_BELOW: i64 = 20_000;
pub const MEDIUM_TOWN_BELOW: i64 = 100_000;

impl Scale {
    /// Derives the scale; a commune of unknown population counts as rural until its population is known.
    pub fn of(kind: CollectivityKind, population: Option<i64>) -> Scale {
        match kind {
            CollectivityKind::Commune => match population.unwrap_or(0) {
                p if p < RURAL_BELOW => Scale::RuralCommune,
                p if p < SMALL_TOWN_BELOW => Scale::SmallTown,
                p if p < MEDIUM_TOWN_BELOW => Scale::MediumTown,
                _ => Scale::LargeCity,
            },
            CollectivityKind::Cc | CollectivityKind::Ca | CollectivityKind::Cu => {
                Scale::Intercommunality
            }
            CollectivityKind::Metropole => Scale::Metropole,
            CollectivityKind::Departement => Scale::Departement,
            CollectivityKind::Region => Scale::Region,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_read_plural_and_the_words_staff_use() {
        assert_eq!(Scale::parse("Communes rurales"), Some(Scale::RuralCommune));
        assert_eq!(Scale::parse("petites villes"), Some(Scale::SmallTown));
        assert_eq!(Scale::parse("EPCI"), Some(Scale::Intercommunality));
        assert_eq!(Scale::parse("Métropoles"), Some(Scale::Metropole));
    }

    #[test]
    fn communes_are_scaled_by_population() {
        assert_eq!(
            Scale::of(CollectivityKind::Commune, Some(860)),
            Scale::RuralCommune
        );
        assert_eq!(
            Scale::of(CollectivityKind::Commune, Some(2_000)),
            Scale::SmallTown
        );
        assert_eq!(
            Scale::of(CollectivityKind::Commune, Some(45_000)),
            Scale::MediumTown
        );
        assert_eq!(
            Scale::of(CollectivityKind::Commune, Some(516_000)),
            Scale::LargeCity
        );
        assert_eq!(
            Scale::of(CollectivityKind::Metropole, None),
            Scale::Metropole
        );
        assert_eq!(
            Scale::of(CollectivityKind::Ca, Some(90_000)),
            Scale::Intercommunality
        );
    }
}
