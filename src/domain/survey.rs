//! What the needs survey's answers say, theme by theme: how many rated it, the mean interest (−2 to +2) and
//! experience (0 to 3), the matrix of interest × experience counts, whether a meeting already took it up,
//! and who could speak from experience (2 or more). Pure computation over what the store returns.

use std::collections::HashMap;

/// Experience from which a respondent could present their collectivity's practice.
pub const SPEAKER_EXPERIENCE: i64 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct ThemeResult {
    pub code: String,
    pub label: String,
    pub respondents: usize,
    pub mean_interest: f64,
    pub mean_experience: f64,
    /// `matrix[interest + 2][experience]`: how many respondents gave that pair.
    pub matrix: [[usize; 4]; 5],
    /// A meeting (planned or held) has this theme.
    pub covered: bool,
    /// (name, collectivity, experience) of respondents with experience ≥ [`SPEAKER_EXPERIENCE`].
    pub speakers: Vec<(String, String, i64)>,
}

impl ThemeResult {
    /// The mean interest as French writes it, signed: "+1,5"; "—" when nobody rated the theme.
    pub fn interest_text(&self) -> String {
        if self.respondents == 0 {
            "—".into()
        } else {
            french_decimal(format!("{:+.1}", self.mean_interest))
        }
    }

    /// The mean experience: "2,0"; "—" when nobody rated the theme.
    pub fn experience_text(&self) -> String {
        if self.respondents == 0 {
            "—".into()
        } else {
            french_decimal(format!("{:.1}", self.mean_experience))
        }
    }

    /// "aucune réponse", "1 réponse", "3 réponses".
    pub fn respondents_text(&self) -> String {
        answers_text(self.respondents)
    }
}

/// "aucune réponse", "1 réponse", "3 réponses".
pub fn answers_text(count: usize) -> String {
    match count {
        0 => "aucune réponse".into(),
        1 => "1 réponse".into(),
        n => format!("{n} réponses"),
    }
}

/// A number written with a decimal point, with a decimal comma; "−" for minus, as typeset French does.
fn french_decimal(text: String) -> String {
    text.replace('.', ",").replace('-', "−")
}

/// One rating with who gave it.
pub struct Rating<'a> {
    pub theme: &'a str,
    pub interest: i64,
    pub experience: i64,
    pub name: &'a str,
    pub collectivity: &'a str,
}

/// Whether a meeting theme takes up a survey theme: its label or code, whatever the case and accents.
pub fn covers(meeting_theme: &str, code: &str, label: &str) -> bool {
    let theme = super::search_text(&[meeting_theme]);
    let label = super::search_text(&[label]);
    let code = super::search_text(&[&code.replace('_', " ")]);
    !theme.is_empty() && (theme.contains(&label) || label.contains(&theme) || theme.contains(&code))
}

/// Results per theme, in the questionnaire's order.
pub fn results(
    themes: &[(String, String)],
    ratings: &[Rating],
    meeting_themes: &[String],
) -> Vec<ThemeResult> {
    let mut by_theme: HashMap<&str, Vec<&Rating>> = HashMap::new();
    for rating in ratings {
        by_theme.entry(rating.theme).or_default().push(rating);
    }
    themes
        .iter()
        .map(|(code, label)| {
            let rated = by_theme.get(code.as_str()).cloned().unwrap_or_default();
            let count = rated.len();
            let mean = |f: &dyn Fn(&Rating) -> i64| {
                if count == 0 {
                    0.0
                } else {
                    rated.iter().map(|r| f(r) as f64).sum::<f64>() / count as f64
                }
            };
            let mut matrix = [[0usize; 4]; 5];
            for r in &rated {
                if (-2..=2).contains(&r.interest) && (0..=3).contains(&r.experience) {
                    matrix[(r.interest + 2) as usize][r.experience as usize] += 1;
                }
            }
            let mut speakers: Vec<(String, String, i64)> = rated
                .iter()
                .filter(|r| r.experience >= SPEAKER_EXPERIENCE)
                .map(|r| (r.name.to_string(), r.collectivity.to_string(), r.experience))
                .collect();
            speakers.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            ThemeResult {
                code: code.clone(),
                label: label.clone(),
                respondents: count,
                mean_interest: mean(&|r| r.interest),
                mean_experience: mean(&|r| r.experience),
                matrix,
                covered: meeting_themes.iter().any(|t| covers(t, code, label)),
                speakers,
            }
        })
        .collect()
}

/// The themes most wanted and not yet taken up by a meeting: rated by someone, mean interest above zero,
/// highest first.
pub fn wanted_not_covered(results: &[ThemeResult]) -> Vec<&ThemeResult> {
    let mut wanted: Vec<&ThemeResult> = results
        .iter()
        .filter(|r| !r.covered && r.respondents > 0 && r.mean_interest > 0.0)
        .collect();
    wanted.sort_by(|a, b| {
        b.mean_interest
            .partial_cmp(&a.mean_interest)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.respondents.cmp(&a.respondents))
    });
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meeting_theme_covers_a_survey_theme_whatever_its_case_and_accents() {
        assert!(covers("Accès à l'eau", "eau", "Accès à l'eau"));
        assert!(covers("ACCES A L'EAU POTABLE", "eau", "Accès à l'eau"));
        assert!(covers(
            "Scolarisation des enfants",
            "scolarisation",
            "Scolarisation"
        ));
        assert!(!covers("", "eau", "Accès à l'eau"));
        assert!(!covers("Emploi", "eau", "Accès à l'eau"));
    }
}
