//! The political nuances of the Ministry of the Interior, as staff copy them from election results and the
//! national register of elected officials (RNE), and the colour of relais' diversity matrix each one counts as.
//!
//! A nuance is read from its code (`DVG`), the code of a municipal list with its `L` prefix (`LDVG`), or its
//! label ("Divers gauche", "Liste divers gauche"), ignoring case, accents, punctuation, plural and feminine
//! (see [`super::loose`]). The text is kept as written beside the colour, so an export gives it back unchanged.
//! The table is documented in `docs/VOCABULARY.md`; keep both in step.

use super::{PoliticalColour, fold, loose};

/// One line of the grid: code without the `L` prefix, French label, other names, and colour.
struct Nuance {
    code: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
    colour: PoliticalColour,
}

const fn nuance(
    code: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
    colour: PoliticalColour,
) -> Nuance {
    Nuance {
        code,
        label,
        aliases,
        colour,
    }
}

use PoliticalColour::{Centre, Green, Left, NonPartisan, Right, Unknown, Various};

/// The nuance grid of the 2020 and 2026 municipal elections (list nuances drop their `L` here), with the party
/// names staff also write. relais has no far-left or far-right colour: those nuances count as left or right.
const GRID: &[Nuance] = &[
    nuance("EXG", "Extrême gauche", &["Lutte ouvrière", "NPA"], Left),
    nuance(
        "COM",
        "Parti communiste",
        &["Parti communiste français", "PCF"],
        Left,
    ),
    nuance("FI", "La France insoumise", &["France insoumise"], Left),
    nuance("SOC", "Parti socialiste", &["PS", "Socialiste"], Left),
    nuance(
        "RDG",
        "Parti radical de gauche",
        &["Radical de gauche"],
        Left,
    ),
    nuance("DVG", "Divers gauche", &[], Left),
    nuance(
        "UG",
        "Union de la gauche",
        &["Union de gauche", "Nouveau Front populaire", "NFP", "NUPES"],
        Left,
    ),
    nuance(
        "VEC",
        "Europe Écologie-Les Verts",
        &["EELV", "Les Verts", "Verts", "Les Écologistes"],
        Green,
    ),
    nuance(
        "ECO",
        "Écologiste",
        &["Écologie", "Divers écologiste"],
        Green,
    ),
    nuance("DIV", "Divers", &[], Various),
    nuance("REG", "Régionaliste", &["Régionalistes"], Various),
    nuance("GJ", "Gilets jaunes", &[], Various),
    nuance(
        "REM",
        "La République en marche",
        &["En marche", "LaREM"],
        Centre,
    ),
    nuance(
        "ENS",
        "Ensemble",
        &["Majorité présidentielle", "Renaissance", "Ensemble !"],
        Centre,
    ),
    nuance("MDM", "Modem", &["Mouvement démocrate"], Centre),
    nuance("HOR", "Horizons", &[], Centre),
    nuance(
        "UDI",
        "Union des démocrates et indépendants",
        &["Union des démocrates et des indépendants"],
        Centre,
    ),
    nuance("UC", "Union du centre", &[], Centre),
    nuance("DVC", "Divers centre", &[], Centre),
    nuance("LR", "Les Républicains", &["Républicains"], Right),
    nuance("UD", "Union de la droite", &["Union de droite"], Right),
    nuance("DVD", "Divers droite", &[], Right),
    nuance("DLF", "Debout la France", &[], Right),
    nuance(
        "RN",
        "Rassemblement national",
        &["Front national", "FN"],
        Right,
    ),
    nuance("REC", "Reconquête", &["Reconquête !"], Right),
    nuance("UXD", "Union de l'extrême droite", &[], Right),
    nuance("EXD", "Extrême droite", &[], Right),
    nuance("SE", "Sans étiquette", &["Sans étiquettes"], NonPartisan),
    // "Non classé": the Ministry gave the list no nuance (small communes); relais does not guess a colour.
    nuance("NC", "Non classé", &["Non communiqué"], Unknown),
];

/// How a political cell or field reads: the colour of the matrix and, when the text is a nuance of the grid,
/// the nuance as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoliticalReading {
    pub colour: PoliticalColour,
    pub nuance: Option<String>,
}

impl PoliticalReading {
    /// Reads a nuance of the grid (kept as written) or else a colour of relais ("Gauche", `left`), with no
    /// nuance. `None` for an empty or unknown text.
    pub fn parse(text: &str) -> Option<PoliticalReading> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Some(colour) = nuance_colour(text) {
            return Some(PoliticalReading {
                colour,
                nuance: Some(text.to_string()),
            });
        }
        PoliticalColour::parse(text).map(|colour| PoliticalReading {
            colour,
            nuance: None,
        })
    }
}

/// The colour of a nuance of the grid, from its code (with or without the `L` of list nuances) or its name.
pub fn nuance_colour(text: &str) -> Option<PoliticalColour> {
    let folded = fold(text);
    // "Liste divers gauche", "Liste LDVG": the word "liste" adds nothing.
    let folded = folded
        .strip_prefix("liste")
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&folded);
    let by_code = |code: &str| GRID.iter().find(|n| fold(n.code) == code);
    if let Some(found) = by_code(folded).or_else(|| folded.strip_prefix('l').and_then(by_code)) {
        return Some(found.colour);
    }
    let wanted = loose(text);
    let wanted_unlisted = wanted.strip_prefix("list").unwrap_or(&wanted);
    GRID.iter()
        .find(|n| {
            std::iter::once(n.label)
                .chain(n.aliases.iter().copied())
                .any(|name| {
                    let loosened = loose(name);
                    loosened == wanted || loosened == wanted_unlisted || fold(name) == folded
                })
        })
        .map(|n| n.colour)
}

/// `(code, label)` of every nuance of the grid, in its order (left to right), for the forms' suggestions.
pub fn grid() -> Vec<(&'static str, &'static str)> {
    GRID.iter().map(|n| (n.code, n.label)).collect()
}

/// The nuance codes accepted, for error messages: "EXG, COM, FI, …".
pub fn nuance_codes() -> String {
    GRID.iter().map(|n| n.code).collect::<Vec<_>>().join(", ")
}

/// The French explanation of an unknown political value: the colours and the nuance codes accepted.
pub fn accepted_political_values() -> String {
    let colours = PoliticalColour::ALL
        .iter()
        .map(|c| c.label())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "couleurs acceptées : {colours} ; ou une nuance du ministère de l'Intérieur, par son libellé ou son code \
         (avec ou sans le L des listes) : {}",
        nuance_codes()
    )
}

/// The colour and nuance of a page form, which has a colour choice and a nuance box: a nuance, when given, is
/// kept as written and fixes the colour; otherwise the colour choice (a colour, or a nuance typed there) holds.
/// An empty colour is unknown. The error is a French sentence for the page.
pub fn from_form(colour: &str, nuance: &str) -> Result<(PoliticalColour, Option<String>), String> {
    let nuance = nuance.trim();
    if !nuance.is_empty() {
        let reading = PoliticalReading::parse(nuance).ok_or_else(|| {
            format!(
                "Nuance politique « {nuance} » inconnue ({}).",
                accepted_political_values()
            )
        })?;
        return Ok((reading.colour, Some(nuance.to_string())));
    }
    if colour.trim().is_empty() {
        return Ok((PoliticalColour::Unknown, None));
    }
    let reading = PoliticalReading::parse(colour).ok_or_else(|| {
        format!(
            "Couleur politique « {} » inconnue ({}).",
            colour.trim(),
            accepted_political_values()
        )
    })?;
    Ok((reading.colour, reading.nuance))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colour(text: &str) -> Option<PoliticalColour> {
        PoliticalReading::parse(text).map(|r| r.colour)
    }

    #[test]
    fn nuance_labels_read_in_any_case_and_without_accents() {
        assert_eq!(colour("divers gauche"), Some(Left));
        assert_eq!(colour("DIVERS DROITE"), Some(Right));
        assert_eq!(colour("Union de la gauche"), Some(Left));
        assert_eq!(colour("Union du centre"), Some(Centre));
        assert_eq!(colour("ecologiste"), Some(Green));
        assert_eq!(colour("Rassemblement National"), Some(Right));
        assert_eq!(colour("Majorité présidentielle"), Some(Centre));
        assert_eq!(colour("Liste divers gauche"), Some(Left));
        assert_eq!(colour("Extrême gauche"), Some(Left));
    }

    #[test]
    fn nuance_codes_read_with_or_without_the_list_prefix() {
        for (code, expected) in [
            ("DVG", Left),
            ("LDVG", Left),
            ("ldvd", Right),
            ("LUC", Centre),
            ("UC", Centre),
            ("LECO", Green),
            ("LVEC", Green),
            ("LDIV", Various),
            ("DIV", Various),
            ("LSOC", Left),
            ("LCOM", Left),
            ("LFI", Left),
            ("FI", Left),
            ("LRN", Right),
            ("LLR", Right),
            ("LR", Right),
            ("LENS", Centre),
            ("LREM", Centre),
            ("LSE", NonPartisan),
            ("SE", NonPartisan),
            ("NC", Unknown),
            ("LGJ", Various),
            ("LREG", Various),
            ("LEXD", Right),
            ("LEXG", Left),
        ] {
            assert_eq!(colour(code), Some(expected), "{code}");
        }
    }

    #[test]
    fn the_nuance_is_kept_as_written_and_a_colour_has_none() {
        assert_eq!(
            PoliticalReading::parse("  LDVG "),
            Some(PoliticalReading {
                colour: Left,
                nuance: Some("LDVG".into())
            })
        );
        assert_eq!(
            PoliticalReading::parse("Gauche"),
            Some(PoliticalReading {
                colour: Left,
                nuance: None
            })
        );
        assert_eq!(
            PoliticalReading::parse("right").map(|r| r.nuance),
            Some(None)
        );
    }

    #[test]
    fn a_form_nuance_fixes_the_colour() {
        assert_eq!(from_form("right", "LDVG"), Ok((Left, Some("LDVG".into()))));
        assert_eq!(from_form("centre", " "), Ok((Centre, None)));
        assert_eq!(from_form("", ""), Ok((Unknown, None)));
        assert!(from_form("left", "Liste citoyenne").is_err());
    }

    #[test]
    fn unknown_values_are_refused_and_the_message_lists_the_codes() {
        assert_eq!(PoliticalReading::parse("Liste citoyenne"), None);
        assert_eq!(PoliticalReading::parse("L"), None);
        assert_eq!(PoliticalReading::parse(""), None);
        assert_eq!(PoliticalReading::parse("LXYZ"), None);
        let message = accepted_political_values();
        assert!(message.contains("Gauche") && message.contains("DVG") && message.contains("UC"));
    }
}
