//! Meeting recurrences in the words staff use. A series is stored as an iCalendar rule (RFC 5545 RRULE,
//! what calendars need), but staff choose it as "tous les deux mois, le premier mardi" and read it back the
//! same way: [`Cadence`] and [`Day`] build the rule from the form's choices, [`describe`] says a rule in
//! French (a rule relais did not build is still described when it can be, else named as custom).

/// How often a series meets: the choices of the series form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Weekly,
    EveryTwoWeeks,
    Monthly,
    EveryTwoMonths,
    Quarterly,
}

impl Cadence {
    pub const ALL: [Cadence; 5] = [
        Cadence::Weekly,
        Cadence::EveryTwoWeeks,
        Cadence::Monthly,
        Cadence::EveryTwoMonths,
        Cadence::Quarterly,
    ];

    /// The form's value.
    pub fn key(self) -> &'static str {
        match self {
            Cadence::Weekly => "hebdomadaire",
            Cadence::EveryTwoWeeks => "quinzaine",
            Cadence::Monthly => "mensuelle",
            Cadence::EveryTwoMonths => "bimestrielle",
            Cadence::Quarterly => "trimestrielle",
        }
    }

    pub fn parse(key: &str) -> Option<Cadence> {
        Cadence::ALL.into_iter().find(|c| c.key() == key)
    }

    /// "tous les deux mois"
    pub fn label(self) -> &'static str {
        match self {
            Cadence::Weekly => "toutes les semaines",
            Cadence::EveryTwoWeeks => "toutes les deux semaines",
            Cadence::Monthly => "tous les mois",
            Cadence::EveryTwoMonths => "tous les deux mois",
            Cadence::Quarterly => "tous les trois mois",
        }
    }

    fn weekly(self) -> bool {
        matches!(self, Cadence::Weekly | Cadence::EveryTwoWeeks)
    }

    fn frequency_and_interval(self) -> (&'static str, u32) {
        match self {
            Cadence::Weekly => ("WEEKLY", 1),
            Cadence::EveryTwoWeeks => ("WEEKLY", 2),
            Cadence::Monthly => ("MONTHLY", 1),
            Cadence::EveryTwoMonths => ("MONTHLY", 2),
            Cadence::Quarterly => ("MONTHLY", 3),
        }
    }
}

/// Which day of the period: "le premier mardi" (months) or "le mardi" (weeks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// 1 to 4, or -1 for the last; ignored for weekly cadences.
    pub ordinal: i8,
    /// 0 for Monday to 6 for Sunday.
    pub weekday: u8,
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("MO", "lundi"),
    ("TU", "mardi"),
    ("WE", "mercredi"),
    ("TH", "jeudi"),
    ("FR", "vendredi"),
    ("SA", "samedi"),
    ("SU", "dimanche"),
];

/// The weekdays' names, Monday first, for the form.
pub fn weekday_names() -> impl Iterator<Item = (u8, &'static str)> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(index, (_, name))| (index as u8, *name))
}

/// The ordinals of the form: (value, "premier").
pub const ORDINALS: [(i8, &str); 5] = [
    (1, "premier"),
    (2, "deuxième"),
    (3, "troisième"),
    (4, "quatrième"),
    (-1, "dernier"),
];

fn ordinal_name(ordinal: i8) -> Option<&'static str> {
    ORDINALS
        .iter()
        .find(|(value, _)| *value == ordinal)
        .map(|(_, name)| *name)
}

/// The iCalendar rule of a cadence and a day: `FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU`.
pub fn rule(cadence: Cadence, day: Day) -> String {
    let (frequency, interval) = cadence.frequency_and_interval();
    let weekday = WEEKDAYS[usize::from(day.weekday.min(6))].0;
    let by_day = if cadence.weekly() {
        weekday.to_string()
    } else {
        format!("{}{weekday}", day.ordinal)
    };
    if interval == 1 {
        format!("FREQ={frequency};BYDAY={by_day}")
    } else {
        format!("FREQ={frequency};INTERVAL={interval};BYDAY={by_day}")
    }
}

/// The rule in French: "tous les deux mois, le premier mardi". A rule with parts this does not know is
/// "selon une règle personnalisée": staff never read iCalendar; the series' page shows the rule in its
/// advanced field, where it was written.
pub fn describe(rule: &str) -> String {
    describe_known(rule).unwrap_or_else(|| "selon une règle personnalisée".to_string())
}

fn describe_known(rule: &str) -> Option<String> {
    let mut frequency = None;
    let mut interval = 1u32;
    let mut by_day = None;
    let mut by_month_day = None;
    for part in rule.trim().trim_start_matches("RRULE:").split(';') {
        let (key, value) = part.split_once('=')?;
        match key.to_ascii_uppercase().as_str() {
            "FREQ" => frequency = Some(value.to_ascii_uppercase()),
            "INTERVAL" => interval = value.parse().ok().filter(|n| *n >= 1)?,
            "BYDAY" if !value.contains(',') => by_day = Some(value.to_ascii_uppercase()),
            "BYMONTHDAY" => by_month_day = Some(value.parse::<i32>().ok()?),
            "WKST" => {}
            _ => return None,
        }
    }
    let period = match (frequency?.as_str(), interval) {
        ("DAILY", 1) => "tous les jours".to_string(),
        ("DAILY", n) => format!("tous les {n} jours"),
        ("WEEKLY", 1) => "toutes les semaines".to_string(),
        ("WEEKLY", 2) => "toutes les deux semaines".to_string(),
        ("WEEKLY", n) => format!("toutes les {n} semaines"),
        ("MONTHLY", 1) => "tous les mois".to_string(),
        ("MONTHLY", 2) => "tous les deux mois".to_string(),
        ("MONTHLY", 3) => "tous les trois mois".to_string(),
        ("MONTHLY", 6) => "tous les six mois".to_string(),
        ("MONTHLY", n) => format!("tous les {n} mois"),
        ("YEARLY", 1) => "tous les ans".to_string(),
        ("YEARLY", n) => format!("tous les {n} ans"),
        _ => return None,
    };
    let day = match (by_day, by_month_day) {
        (Some(by_day), None) => {
            let split = by_day.len().checked_sub(2)?;
            let (ordinal, weekday) = by_day.split_at(split);
            let name = WEEKDAYS.iter().find(|(code, _)| *code == weekday)?.1;
            if ordinal.is_empty() {
                format!("le {name}")
            } else {
                format!("le {} {name}", ordinal_name(ordinal.parse().ok()?)?)
            }
        }
        (None, Some(1)) => "le 1er du mois".to_string(),
        (None, Some(-1)) => "le dernier jour du mois".to_string(),
        (None, Some(n)) if (2..=31).contains(&n) => format!("le {n} du mois"),
        (None, None) => return Some(period),
        _ => return None,
    };
    Some(format!("{period}, {day}"))
}

/// The form's choices a rule was built from, when it was: (cadence, day).
pub fn choices(written: &str) -> Option<(Cadence, Day)> {
    let (cadence, day) = Cadence::ALL.into_iter().find_map(|cadence| {
        (1u8..7).chain([0]).find_map(|weekday| {
            [1i8, 2, 3, 4, -1].into_iter().find_map(|ordinal| {
                let day = Day { ordinal, weekday };
                (rule(cadence, day) == rule_text(written)).then_some((cadence, day))
            })
        })
    })?;
    Some((cadence, day))
}

fn rule_text(rule: &str) -> &str {
    rule.trim().trim_start_matches("RRULE:")
}

/// Whether `date` is a day of the rule ("le premier mardi": the first Tuesday of its month); `None` for a
/// rule the form did not build (nothing is claimed about it).
pub fn falls_on(rule: &str, date: chrono::NaiveDate) -> Option<bool> {
    use chrono::Datelike;
    let (cadence, day) = choices(rule)?;
    let weekday_matches = date.weekday().num_days_from_monday() == u32::from(day.weekday);
    if cadence.weekly() {
        return Some(weekday_matches);
    }
    let nth = (date.day() - 1) / 7 + 1;
    let last = date
        .checked_add_signed(chrono::Duration::days(7))
        .is_none_or(|later| later.month() != date.month());
    Some(
        weekday_matches
            && match day.ordinal {
                -1 => last,
                n => i64::from(n) == i64::from(nth),
            },
    )
}

/// "14:00–16:00" from a series' first start (`2026-12-01T14:00`, Paris time) and its length in minutes.
pub fn hours(first_start: &str, duration_minutes: i64) -> Option<String> {
    let start = chrono::NaiveDateTime::parse_from_str(first_start.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(first_start.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    let end = start + chrono::Duration::minutes(duration_minutes);
    Some(format!("{}–{}", start.format("%H:%M"), end.format("%H:%M")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_staff_say_them() {
        assert_eq!(
            describe("FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"),
            "tous les deux mois, le premier mardi"
        );
        assert_eq!(
            describe("RRULE:FREQ=MONTHLY;BYDAY=-1FR"),
            "tous les mois, le dernier vendredi"
        );
        assert_eq!(
            describe("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"),
            "toutes les deux semaines, le jeudi"
        );
        assert_eq!(
            describe("FREQ=MONTHLY;BYMONTHDAY=1"),
            "tous les mois, le 1er du mois"
        );
        assert_eq!(describe("FREQ=YEARLY"), "tous les ans");
        assert_eq!(
            describe("FREQ=MONTHLY;BYDAY=1TU,3TU"),
            "selon une règle personnalisée"
        );
        assert_eq!(describe("FREQ=SOMETIMES"), "selon une règle personnalisée");
        assert_eq!(
            hours("2026-12-01T14:00", 120).as_deref(),
            Some("14:00–16:00")
        );
        assert_eq!(hours("1er décembre", 120), None);
    }

    #[test]
    fn the_form_builds_the_rules_it_describes() {
        let second_tuesday = Day {
            ordinal: 2,
            weekday: 1,
        };
        assert_eq!(
            rule(
                Cadence::EveryTwoMonths,
                Day {
                    ordinal: 1,
                    ..second_tuesday
                }
            ),
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU"
        );
        assert_eq!(
            rule(Cadence::Weekly, second_tuesday),
            "FREQ=WEEKLY;BYDAY=TU"
        );
        for cadence in Cadence::ALL {
            assert_eq!(Cadence::parse(cadence.key()), Some(cadence));
            let said = describe(&rule(cadence, second_tuesday));
            assert!(said.starts_with(cadence.label()), "{said}");
            assert!(said.ends_with("mardi"), "{said}");
        }
    }

    #[test]
    fn a_date_falls_on_the_rule_or_not() {
        let date = |text: &str| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let first_tuesday = "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU";
        assert_eq!(falls_on(first_tuesday, date("2026-12-01")), Some(true));
        assert_eq!(falls_on(first_tuesday, date("2026-12-03")), Some(false));
        assert_eq!(falls_on(first_tuesday, date("2026-12-08")), Some(false));
        assert_eq!(
            falls_on("FREQ=MONTHLY;BYDAY=-1FR", date("2026-12-25")),
            Some(true)
        );
        assert_eq!(
            falls_on("FREQ=MONTHLY;BYDAY=-1FR", date("2026-12-18")),
            Some(false)
        );
        assert_eq!(
            falls_on("FREQ=WEEKLY;BYDAY=TH", date("2026-12-03")),
            Some(true)
        );
        assert_eq!(
            falls_on("FREQ=MONTHLY;BYDAY=1TU,3TU", date("2026-12-01")),
            None
        );
        assert_eq!(
            choices(first_tuesday),
            Some((
                Cadence::EveryTwoMonths,
                Day {
                    ordinal: 1,
                    weekday: 1
                }
            ))
        );
    }
}
