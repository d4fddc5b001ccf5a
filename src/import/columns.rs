//! Which field each column of a spreadsheet holds, guessed from its header, and how its cells read.
//!
//! Staff name their columns freely ("Élu·e / Contact", "Courriel", "Dép."), so headers are compared folded
//! (case, accents and punctuation ignored, see [`crate::domain::fold`]) against the French names, their usual
//! variants and the English codes. A person can then correct the guess in the mapping step of the UI.
//!
//! [`RowCells`] then reads the cells of one row through the mapping with the domain parsers, and words each
//! problem in French with the line and the header as the file spells it.

use std::collections::BTreeMap;
use std::fmt::Display;

use chrono::NaiveDate;

use crate::domain::nuance::accepted_political_values;
use crate::domain::{
    EmailAddress, LeadSource, PoliticalColour, PoliticalReading, Priority, fold, parse_date,
};
use crate::store::people::NewPerson;
use crate::store::targets::TargetFields;

/// Declares [`Field`] from one table: variant, English code (also its serde name), French label shown in the
/// mapping step, and other headers seen in staff spreadsheets.
macro_rules! fields {
    ($($variant:ident => $code:literal, $label:literal, [$($alias:literal),*];)+) => {
        /// A piece of information an imported row can carry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum Field { $(#[serde(rename = $code)] $variant),+ }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];

            /// The English code, used in forms and accepted as a header.
            pub fn code(self) -> &'static str {
                match self { $(Field::$variant => $code),+ }
            }

            /// The French name shown in the mapping step.
            pub fn label_fr(self) -> &'static str {
                match self { $(Field::$variant => $label),+ }
            }

            fn aliases(self) -> &'static [&'static str] {
                match self { $(Field::$variant => &[$($alias),*]),+ }
            }
        }
    };
}

fields! {
    Name => "name", "Collectivité", ["Nom", "Commune", "Nom de la collectivité", "Nom de la commune"];
    OfficialCode => "insee_code", "Code INSEE", ["INSEE", "Code", "SIREN", "Code commune", "Code INSEE / SIREN"];
    Departement => "departement", "Département", ["Dept", "Dép.", "Dpt", "Code département"];
    Region => "region", "Région", [];
    ContactName => "contact_name", "Élu·e / Contact", ["Contact", "Élu", "Elue", "Élu(e)", "Élu / Contact", "Nom du contact"];
    Function => "function", "Fonction", ["Poste", "Fonction du contact"];
    Email => "email", "Email", ["Mail", "Courriel", "E-mail", "Adresse email", "Adresse mail"];
    Phone => "phone", "Téléphone", ["Tél", "Tel", "Téléphones", "Portable"];
    PoliticalColour => "political_colour", "Couleur politique", ["Couleur", "Bord politique", "Tendance politique"];
    PoliticalNuance => "political_nuance", "Nuance politique", ["Nuance", "Code nuance", "Code nuance politique", "Libellé nuance", "Nuance de liste", "Nuance liste", "Étiquette", "Étiquette politique"];
    LeadSource => "lead_source", "Source", ["Origine", "Source du contact"];
    Stage => "stage", "Statut", ["Étape", "Etat", "Avancement"];
    NextAction => "next_action", "Prochaine action", ["Action suivante", "Prochaine étape"];
    NextActionDate => "next_action_date", "Date prochaine action", ["Échéance", "Date de relance", "Date action"];
    Notes => "notes", "Notes", ["Commentaires", "Commentaire", "Note", "Remarques"];
    Priority => "priority", "Priorité", ["Prio"];
    HasSquats => "has_squats", "Squats/bidonvilles", ["Squat", "Bidonville", "Squats", "Bidonvilles"];
    Owner => "owner", "Responsable", ["Suivi par", "Chargé de suivi", "Référent"];
}

impl Field {
    /// Every header this field is known by, folded.
    fn folded_names(self) -> impl Iterator<Item = String> {
        [self.label_fr(), self.code()]
            .into_iter()
            .chain(self.aliases().iter().copied())
            .map(fold)
    }

    /// Parses a field code or French name (as a form or a mapping file gives it).
    pub fn parse(text: &str) -> Option<Field> {
        let wanted = fold(text);
        Field::ALL
            .iter()
            .copied()
            .find(|f| f.folded_names().any(|n| n == wanted))
    }
}

/// Guesses the field of each column. A field is given to one column only (the first that names it), so a
/// second "Mail" column is left for a person to map. Exact names win; then a header that starts with a
/// name of at least five letters ("Email du maire", "Code INSEE de la commune") is accepted.
pub fn guess_mapping(headers: &[String]) -> Vec<Option<Field>> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let mut mapping: Vec<Option<Field>> = vec![None; headers.len()];
    for (column, header) in folded.iter().enumerate() {
        let exact = Field::ALL
            .iter()
            .copied()
            .find(|f| f.folded_names().any(|n| n == *header));
        if let Some(field) = exact
            && !mapping.contains(&Some(field))
        {
            mapping[column] = Some(field);
        }
    }
    for (column, header) in folded.iter().enumerate() {
        if mapping[column].is_some() || header.is_empty() {
            continue;
        }
        // The longest matching prefix: "Date prochaine action …" is a date, not the action itself.
        let by_prefix = Field::ALL
            .iter()
            .flat_map(|f| f.folded_names().map(move |n| (n, *f)))
            .filter(|(name, field)| {
                name.len() >= 5
                    && header.starts_with(name.as_str())
                    && !mapping.contains(&Some(*field))
            })
            .max_by_key(|(name, _)| name.len());
        if let Some((_, field)) = by_prefix {
            mapping[column] = Some(field);
        }
    }
    mapping
}

/// Applies corrections from the mapping step: each `(column, field)` assigns `field` to that column (`None`
/// ignores the column). A field moved to a column is taken off any other, so it keeps a single source.
pub fn apply_overrides(
    mapping: &mut [Option<Field>],
    overrides: &[(usize, Option<Field>)],
) -> Result<(), String> {
    for &(column, field) in overrides {
        if column >= mapping.len() {
            return Err(format!(
                "la colonne n° {} n'existe pas (le fichier en a {})",
                column + 1,
                mapping.len()
            ));
        }
        if let Some(field) = field {
            mapping
                .iter_mut()
                .filter(|m| **m == Some(field))
                .for_each(|m| *m = None);
        }
        mapping[column] = field;
    }
    Ok(())
}

/// Turns corrections given by header text (`{"Mail pro": "email", "Divers": ""}`, as a form posts them)
/// into column overrides. An empty value or "ignorer" ignores the column.
pub fn overrides_from_names(
    headers: &[String],
    by_header: &BTreeMap<String, String>,
) -> Result<Vec<(usize, Option<Field>)>, String> {
    let mut overrides = Vec::new();
    for (header, code) in by_header {
        let column = headers
            .iter()
            .position(|h| fold(h) == fold(header))
            .ok_or_else(|| format!("aucune colonne ne s'appelle « {header} »"))?;
        let field =
            match fold(code).as_str() {
                "" | "ignorer" | "ignore" | "none" => None,
                _ => Some(Field::parse(code).ok_or_else(|| {
                    format!("« {code} » n'est pas un champ connu pour « {header} »")
                })?),
            };
        overrides.push((column, field));
    }
    Ok(overrides)
}

/// Where each field sits in a table, computed once per import.
pub(super) struct Columns<'a> {
    headers: &'a [String],
    by_field: [Option<usize>; Field::ALL.len()],
}

impl<'a> Columns<'a> {
    pub(super) fn new(headers: &'a [String], mapping: &[Option<Field>]) -> Self {
        let mut by_field = [None; Field::ALL.len()];
        for (column, field) in mapping.iter().enumerate() {
            if let Some(field) = field {
                by_field[*field as usize].get_or_insert(column);
            }
        }
        Columns { headers, by_field }
    }
}

/// The cells of one row read through the mapping, gathering French error messages as values are parsed.
pub(super) struct RowCells<'a> {
    columns: &'a Columns<'a>,
    cells: &'a [String],
    pub(super) line: usize,
    pub(super) errors: Vec<String>,
}

impl<'a> RowCells<'a> {
    pub(super) fn new(columns: &'a Columns<'a>, cells: &'a [String], line: usize) -> Self {
        RowCells {
            columns,
            cells,
            line,
            errors: Vec::new(),
        }
    }

    /// The trimmed cell of `field`, empty when the field has no column.
    pub(super) fn get(&self, field: Field) -> &'a str {
        self.columns.by_field[field as usize]
            .and_then(|c| self.cells.get(c))
            .map_or("", |c| c.trim())
    }

    /// The fields this row gives a value for.
    pub(super) fn provided(&self) -> Vec<Field> {
        Field::ALL
            .iter()
            .copied()
            .filter(|f| !self.get(*f).is_empty())
            .collect()
    }

    /// Records a problem with the cell of `field`.
    pub(super) fn error(&mut self, field: Field, message: impl Display) {
        let header = self.columns.by_field[field as usize]
            .map_or(field.label_fr(), |c| &self.columns.headers[c]);
        self.errors.push(format!(
            "ligne {}, colonne « {header} » : {message}",
            self.line
        ));
    }

    /// Records a problem with the row as a whole.
    pub(super) fn row_error(&mut self, message: impl Display) {
        self.errors.push(format!("ligne {} : {message}", self.line));
    }

    /// A value of a closed set (stage, colour…); `what` names the set in the message ("une étape").
    pub(super) fn choice<T: Copy>(
        &mut self,
        field: Field,
        parse: fn(&str) -> Option<T>,
        all: &[T],
        label: fn(T) -> &'static str,
        what: &str,
    ) -> Option<T> {
        let text = self.get(field);
        if text.is_empty() {
            return None;
        }
        let parsed = parse(text);
        if parsed.is_none() {
            let accepted = all.iter().map(|v| label(*v)).collect::<Vec<_>>().join(", ");
            self.error(
                field,
                format!("« {text} » n'est pas {what} connue (valeurs acceptées : {accepted})"),
            );
        }
        parsed
    }

    /// The political colour and nuance of the row. Either column may hold a colour ("Gauche") or a nuance of
    /// the Ministry's grid ("Divers gauche", "LDVG"); a nuance is kept as written and fixes the colour. A colour
    /// that contradicts the nuance of the same row is an error, not a silent choice.
    fn political(&mut self) -> (PoliticalColour, Option<String>) {
        let colour = self.political_cell(Field::PoliticalColour);
        let nuance = self.political_cell(Field::PoliticalNuance);
        match (colour, nuance) {
            (Some(colour), Some(nuance))
                if colour.colour != nuance.colour && colour.colour != PoliticalColour::Unknown =>
            {
                let (written, nuance_text) = (
                    self.get(Field::PoliticalColour),
                    self.get(Field::PoliticalNuance),
                );
                self.error(
                    Field::PoliticalColour,
                    format!(
                        "« {written} » ne correspond pas à la nuance « {nuance_text} », qui compte comme « {} » \
                         (corrigez l'une des deux, ou videz la couleur)",
                        nuance.colour.label()
                    ),
                );
                (nuance.colour, nuance.nuance)
            }
            // The nuance column is kept as written, even a colour word ("Gauche"): it is what staff wrote there.
            (_, Some(nuance)) => (
                nuance.colour,
                Some(self.get(Field::PoliticalNuance).to_string()),
            ),
            (Some(colour), None) => (colour.colour, colour.nuance),
            (None, None) => (PoliticalColour::Unknown, None),
        }
    }

    fn political_cell(&mut self, field: Field) -> Option<PoliticalReading> {
        let text = self.get(field);
        if text.is_empty() {
            return None;
        }
        let reading = PoliticalReading::parse(text);
        if reading.is_none() {
            let what = match field {
                Field::PoliticalNuance => "une nuance politique connue",
                _ => "une couleur politique connue",
            };
            self.error(
                field,
                format!(
                    "« {text} » n'est pas {what} ({})",
                    accepted_political_values()
                ),
            );
        }
        reading
    }

    fn date(&mut self, field: Field) -> Option<NaiveDate> {
        let text = self.get(field);
        let date = parse_date(text);
        if date.is_none() && !text.is_empty() {
            self.error(
                field,
                format!("« {text} » n'est pas une date (écrivez par exemple 31/12/2026)"),
            );
        }
        date
    }

    fn yes_no(&mut self, field: Field) -> Option<bool> {
        let text = self.get(field);
        match fold(text).as_str() {
            "" => None,
            "oui" | "o" | "yes" | "y" | "x" | "1" | "vrai" | "true" => Some(true),
            "non" | "n" | "no" | "0" | "faux" | "false" => Some(false),
            _ => {
                self.error(
                    field,
                    format!("« {text} » n'est pas compris (écrivez oui ou non)"),
                );
                None
            }
        }
    }

    /// The staff member named by name or email; a name two people share must be given as an email.
    fn owner(&mut self, owners: &[(i64, String, String)]) -> Option<i64> {
        let text = self.get(Field::Owner);
        if text.is_empty() {
            return None;
        }
        let wanted = fold(text);
        let by_email = owners
            .iter()
            .find(|(_, _, email)| email.eq_ignore_ascii_case(text));
        let by_name: Vec<_> = owners
            .iter()
            .filter(|(_, name, _)| fold(name) == wanted)
            .collect();
        match (by_email, by_name.as_slice()) {
            (Some((id, ..)), _) | (None, [(id, ..)]) => Some(*id),
            (None, []) => {
                let names = owners
                    .iter()
                    .map(|(_, n, _)| n.as_str())
                    .collect::<Vec<_>>();
                let team = match names.as_slice() {
                    [] => "aucun compte ne peut encore suivre de cible".to_string(),
                    names => format!("équipe : {}", names.join(", ")),
                };
                self.error(
                    Field::Owner,
                    format!("« {text} » n'est pas un membre de l'équipe ({team})"),
                );
                None
            }
            (None, _) => {
                self.error(
                    Field::Owner,
                    format!(
                        "plusieurs membres de l'équipe s'appellent « {text} » : indiquez son email"
                    ),
                );
                None
            }
        }
    }

    /// The values of a cell that may hold several (`a@x.fr; b@y.fr` or `… / …`).
    fn list(&self, field: Field) -> Vec<&'a str> {
        self.get(field)
            .split([';', ',', '/', '\n'])
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn emails(&mut self) -> Vec<String> {
        let mut emails = Vec::new();
        for text in self.list(Field::Email) {
            match EmailAddress::parse(text) {
                Ok(email) if !emails.contains(&email.to_string()) => emails.push(email.to_string()),
                Ok(_) => {}
                Err(message) => self.error(Field::Email, message),
            }
        }
        emails
    }

    fn phones(&mut self) -> Vec<String> {
        let mut phones = Vec::new();
        for text in self.list(Field::Phone) {
            let digits = text.chars().filter(char::is_ascii_digit).count();
            if digits < 6
                || !text
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +.-()".contains(c))
            {
                self.error(
                    Field::Phone,
                    format!("« {text} » n'est pas un numéro de téléphone"),
                );
            } else if digits == 9 && text.len() == 9 && !text.starts_with('0') {
                // A number Excel stored as a number lost its leading zero: 612345678 was 06 12 34 56 78.
                phones.push(format!("0{text}"));
            } else {
                phones.push(text.to_string());
            }
        }
        phones
    }
}

/// The follow-up fields of a row; empty cells take the defaults of a new target.
pub(super) fn target_fields(
    cells: &mut RowCells,
    owners: &[(i64, String, String)],
) -> TargetFields {
    let (political_colour, political_nuance) = cells.political();
    let source = cells.choice(
        Field::LeadSource,
        LeadSource::parse,
        LeadSource::ALL,
        LeadSource::label,
        "une source",
    );
    let priority = cells.choice(
        Field::Priority,
        Priority::parse,
        Priority::ALL,
        Priority::label,
        "une priorité",
    );
    TargetFields {
        owner_id: cells.owner(owners),
        political_colour,
        political_nuance,
        lead_source: source.unwrap_or(LeadSource::Other),
        priority: priority.unwrap_or(Priority::Normal),
        next_action: cells.get(Field::NextAction).to_string(),
        next_action_date: cells.date(Field::NextActionDate),
        has_squats: cells.yes_no(Field::HasSquats).unwrap_or(false),
        notes: cells.get(Field::Notes).to_string(),
    }
}

/// The contact of a row (official or staff of the collectivity), if it names one. A person needs a name:
/// without one, the function ("Maire") or the first email stands in.
pub(super) fn contact(cells: &mut RowCells) -> Option<NewPerson> {
    let emails = cells.emails();
    let phones = cells.phones();
    let (name, function) = (cells.get(Field::ContactName), cells.get(Field::Function));
    let full_name = [name, function]
        .into_iter()
        .chain(emails.first().map(String::as_str))
        .chain(phones.first().map(String::as_str))
        .find(|n| !n.is_empty())?;
    Some(NewPerson {
        full_name: full_name.to_string(),
        function: function.to_string(),
        emails,
        phones,
        ..NewPerson::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(headers: &[&str]) -> Vec<Option<Field>> {
        guess_mapping(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn french_headers_are_recognised() {
        let mapping = guess(&[
            "Collectivité",
            "Code INSEE",
            "Dép.",
            "Élu·e / Contact",
            "Courriel",
            "Tél.",
            "Couleur politique",
            "Statut",
            "Prochaine action",
            "Échéance",
            "Commentaires",
            "Priorité",
            "Squats/bidonvilles",
            "Responsable",
        ]);
        let expected = [
            Field::Name,
            Field::OfficialCode,
            Field::Departement,
            Field::ContactName,
            Field::Email,
            Field::Phone,
            Field::PoliticalColour,
            Field::Stage,
            Field::NextAction,
            Field::NextActionDate,
            Field::Notes,
            Field::Priority,
            Field::HasSquats,
            Field::Owner,
        ];
        assert_eq!(mapping, expected.map(Some).to_vec());
    }

    #[test]
    fn english_codes_prefixes_and_repeats() {
        assert_eq!(
            guess(&["insee_code", "name", "next_action_date"]),
            [
                Some(Field::OfficialCode),
                Some(Field::Name),
                Some(Field::NextActionDate)
            ]
        );
        // Exact names win over prefixes; "Code postal" and "Ressources" are not "Code" and "Source".
        assert_eq!(
            guess(&["Email du maire", "Mail", "Code postal", "Ressources"]),
            [None, Some(Field::Email), None, None]
        );
        assert_eq!(
            guess(&["Email du maire", "Code INSEE de la commune"]),
            [Some(Field::Email), Some(Field::OfficialCode)]
        );
    }

    #[test]
    fn overrides_move_a_field_to_one_column() {
        let mut mapping = guess(&["Email", "Mail pro", "Divers"]);
        apply_overrides(&mut mapping, &[(1, Some(Field::Email))]).unwrap();
        assert_eq!(mapping, [None, Some(Field::Email), None]);
        assert!(apply_overrides(&mut mapping, &[(7, None)]).is_err());
        let headers = ["Email".to_string(), "Mail pro".into(), "Divers".into()];
        let by_name = BTreeMap::from([
            ("divers".to_string(), "Notes".to_string()),
            ("Email".into(), "".into()),
        ]);
        assert_eq!(
            overrides_from_names(&headers, &by_name).unwrap(),
            [(0, None), (2, Some(Field::Notes))]
        );
    }
}
