//! Dates and times as French readers expect them, always in Paris time: the one place for month and weekday
//! names, "1er", day-month-year order and the conversions between Paris local time and the UTC instants
//! relais stores. The web pages, the mails and the scheduler all format through here.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::clock::PARIS;

/// French month names, January first.
pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// French weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

/// Title words that French puts an article before ("la Lettre du club", "le Bulletin…"); any other name
/// reads as a proper name, without one ("Échanges du club").
const TITLE_ARTICLES: [(&str, &str); 6] = [
    ("lettre", "la"),
    ("liste", "la"),
    ("newsletter", "la"),
    ("gazette", "la"),
    ("bulletin", "le"),
    ("journal", "le"),
];

/// Whether French elides before `word` (a vowel or a mute h).
fn elides_before(word: &str) -> bool {
    crate::domain::fold(word)
        .chars()
        .next()
        .is_some_and(|c| "aeiouyh".contains(c))
}

/// The article a list or publication name takes, if any.
fn article_of(name: &str) -> Option<&'static str> {
    let first = crate::domain::fold(name.split_whitespace().next().unwrap_or_default());
    TITLE_ARTICLES
        .iter()
        .find(|(word, _)| *word == first)
        .map(|(_, article)| *article)
}

/// A list's name as the object of a verb: "la Lettre du club", "Échanges du club".
pub fn list_object(name: &str) -> String {
    match article_of(name) {
        Some(_) if elides_before(name) => format!("l'{name}"),
        Some(article) => format!("{article} {name}"),
        None => name.to_string(),
    }
}

/// "de" and a list's name: "de la Lettre du club", "du Bulletin", "d'Échanges du club".
pub fn of_list(name: &str) -> String {
    match article_of(name) {
        Some("le") if !elides_before(name) => format!("du {name}"),
        Some(_) => format!("de {}", list_object(name)),
        None if elides_before(name) => format!("d'{name}"),
        None => format!("de {name}"),
    }
}

/// "à" and a list's name: "à la Lettre du club", "au Bulletin", "à Échanges du club".
pub fn to_list(name: &str) -> String {
    match article_of(name) {
        Some("le") if !elides_before(name) => format!("au {name}"),
        _ => format!("à {}", list_object(name)),
    }
}

/// A count and its noun, singular for 0 and 1 as French has it: "1 abonné·e", "19 abonné·es".
/// (`n` by value or by reference, as templates pass it.)
pub fn count(n: impl std::borrow::Borrow<usize>, singular: &str, plural: &str) -> String {
    let n = *n.borrow();
    format!("{n} {}", if n > 1 { plural } else { singular })
}

/// "1er" for the first of the month, the number otherwise.
pub fn day_of_month(day: u32) -> String {
    if day == 1 {
        "1er".to_string()
    } else {
        day.to_string()
    }
}

/// "04/12/2026"; empty for no date.
pub fn french_date(date: Option<NaiveDate>) -> String {
    date.map_or_else(String::new, |d| d.format("%d/%m/%Y").to_string())
}

/// Epoch milliseconds as a Paris date and time: "04/12/2026 14:05".
pub fn french_datetime(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .map(|at| {
            at.with_timezone(&PARIS)
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A date as staff read it in a sentence: "1er décembre 2026 à 09:00".
pub fn french_moment(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&PARIS);
    format!(
        "{} {} {} à {}",
        day_of_month(local.day()),
        MONTHS[local.month0() as usize],
        local.year(),
        local.format("%H:%M")
    )
}

/// A day with its weekday: "mardi 2 février 2027".
pub fn french_day(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&PARIS);
    format!(
        "{} {} {} {}",
        WEEKDAYS[local.weekday().num_days_from_monday() as usize],
        day_of_month(local.day()),
        MONTHS[local.month0() as usize],
        local.year()
    )
}

/// A meeting's time: "mardi 1er décembre 2026, 14:00–16:00".
pub fn french_span(starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    let start = starts.with_timezone(&PARIS);
    let end = ends.with_timezone(&PARIS);
    format!(
        "{} {} {} {}, {}–{}",
        WEEKDAYS[start.weekday().num_days_from_monday() as usize],
        day_of_month(start.day()),
        MONTHS[start.month0() as usize],
        start.year(),
        start.format("%H:%M"),
        end.format("%H:%M")
    )
}

/// The Paris local time of a form (`YYYY-MM-DDTHH:MM`) as UTC; at a change of clocks, the earlier instant.
pub fn paris_local(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok()?;
    PARIS
        .from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// The day of `millis` in Paris.
pub fn paris_day(millis: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .with_timezone(&PARIS)
        .date_naive()
}

/// Midnight of `day` in Paris, in epoch milliseconds.
pub fn paris_midnight(day: NaiveDate) -> Option<i64> {
    PARIS
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|at| at.timestamp_millis())
}

/// The year of a date written `YYYY-MM-DD` (or just `YYYY`), when it reads as one.
pub fn year_of(date: &str) -> Option<&str> {
    let year = date.get(..4)?;
    (year.chars().all(|c| c.is_ascii_digit())
        && (date.len() == 4 || date.as_bytes().get(4) == Some(&b'-')))
    .then_some(year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "abonné·e", "abonné·es"), "0 abonné·e");
        assert_eq!(count(1, "abonné·e", "abonné·es"), "1 abonné·e");
        assert_eq!(count(19, "abonné·e", "abonné·es"), "19 abonné·es");
    }

    #[test]
    fn list_names_take_their_article_and_elision() {
        assert_eq!(list_object("Lettre du club"), "la Lettre du club");
        assert_eq!(of_list("Lettre du club"), "de la Lettre du club");
        assert_eq!(to_list("Lettre du club"), "à la Lettre du club");
        assert_eq!(of_list("Échanges du club"), "d'Échanges du club");
        assert_eq!(to_list("Échanges du club"), "à Échanges du club");
        assert_eq!(of_list("Bulletin des élu·es"), "du Bulletin des élu·es");
        assert_eq!(to_list("Bulletin des élu·es"), "au Bulletin des élu·es");
        assert_eq!(of_list("Groupe Île-de-France"), "de Groupe Île-de-France");
        assert_eq!(list_object("Associations"), "Associations");
    }

    #[test]
    fn dates_read_the_french_way_in_paris_time() {
        let winter = paris_local("2026-12-01T14:00").unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-12-01T13:00:00+00:00");
        let end = winter + chrono::Duration::hours(2);
        assert_eq!(
            french_span(winter, end),
            "mardi 1er décembre 2026, 14:00–16:00"
        );
        assert_eq!(french_moment(winter), "1er décembre 2026 à 14:00");
        assert_eq!(french_day(winter), "mardi 1er décembre 2026");
        assert_eq!(
            french_datetime(winter.timestamp_millis()),
            "01/12/2026 14:00"
        );
        assert_eq!(
            french_date(NaiveDate::from_ymd_opt(2027, 2, 2)),
            "02/02/2027"
        );
        // 23:30 UTC on 31 March is already 1 April in Paris (summer time).
        let late = Utc.with_ymd_and_hms(2027, 3, 31, 23, 30, 0).unwrap();
        assert_eq!(
            paris_day(late.timestamp_millis()),
            NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()
        );
        let midnight = paris_midnight(NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()).unwrap();
        assert_eq!(
            midnight,
            Utc.with_ymd_and_hms(2027, 3, 31, 22, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }
}
