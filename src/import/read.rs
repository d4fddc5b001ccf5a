//! Reading a spreadsheet into a table of text cells, from XLSX (and the other workbook formats calamine
//! knows) or CSV as French office software writes it.
//!
//! Every cell becomes text here, so the plan validates one kind of value whatever the source: integer-valued
//! numbers lose Excel's ".0", date cells become ISO dates. Rows keep the line number a person sees in their
//! spreadsheet program, so messages can point at the right line even when blank lines were skipped.

use std::io::Cursor;

use calamine::{Data, Reader};

use super::ImportError;

/// The cells of a file: a header row and the data rows, each with its 1-based line number in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Reads XLSX (recognised by extension or by the zip signature) or CSV bytes. Blank rows are skipped but still
/// counted in line numbers; cells are trimmed.
pub fn read_table(bytes: &[u8], file_name: &str) -> Result<Table, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::EmptyFile(file_name.to_string()));
    }
    let lower = file_name.to_lowercase();
    let workbook_extension = [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e));
    // Zip (XLSX, ODS) or OLE (legacy XLS) signature: a workbook renamed ".csv" is still read as one.
    let workbook_magic =
        bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let lines = if workbook_extension || workbook_magic {
        read_workbook(bytes, file_name)?
    } else if binary(bytes) {
        // A picture, a PDF or an archive named ".csv": text never holds NUL or most control bytes.
        return Err(ImportError::NotASpreadsheet(file_name.to_string()));
    } else {
        read_csv(bytes, file_name)?
    };
    into_table(lines, file_name)
}

/// Whether `bytes` are not text: a NUL byte, or more than one in a hundred of the control bytes no text
/// file holds (tab, line ends and form feed aside), in the first 64 kB.
fn binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(65_536)];
    let controls = head
        .iter()
        .filter(|b| **b < 0x20 && !matches!(**b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    head.contains(&0) || controls * 100 > head.len()
}

/// Keeps the first non-blank row as headers and the following non-blank rows as data.
fn into_table(lines: Vec<(usize, Vec<String>)>, file_name: &str) -> Result<Table, ImportError> {
    let mut lines = lines
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    let Some((_, headers)) = lines.next() else {
        return Err(ImportError::EmptyFile(file_name.to_string()));
    };
    // A header row of numbers or emails is data: the person forgot the header line.
    let looks_like_data = headers
        .iter()
        .filter(|h| !h.is_empty())
        .all(|h| h.contains('@') || h.parse::<f64>().is_ok());
    if looks_like_data {
        return Err(ImportError::NoHeader(file_name.to_string()));
    }
    Ok(Table {
        headers,
        rows: lines.collect(),
    })
}

fn read_workbook(bytes: &[u8], file_name: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let unreadable = |reason: String| ImportError::UnreadableSpreadsheet {
        file: file_name.to_string(),
        reason,
    };
    let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| unreadable(format!("format non reconnu ou fichier abîmé ({e})")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("le classeur ne contient aucune feuille".into()))?
        .map_err(|e| unreadable(format!("la première feuille est illisible ({e})")))?;
    // The range starts at the first used cell, not at A1: add its row to get the line number Excel shows.
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| (first_row + i + 1, cells.iter().map(cell_text).collect()))
        .collect())
}

/// The text of a workbook cell as a person would type it.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "oui" } else { "non" }.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (year, month, day, ..) = dt.to_ymd_hms_milli();
            format!("{year:04}-{month:02}-{day:02}")
        }
        Data::DateTime(dt) => number_text(dt.as_f64()),
        // ISO date-times ("2026-12-01T00:00:00") keep only their date: the import has no time fields.
        Data::DateTimeIso(s) => s
            .get(..10)
            .filter(|d| crate::domain::parse_date(d).is_some())
            .unwrap_or(s)
            .to_string(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

/// Excel stores every number as a float: INSEE code 1001 (for "01001") arrives as 1001.0.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

fn read_csv(bytes: &[u8], file_name: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let text = decode_text(bytes);
    let delimiter = detect_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::UnreadableCsv {
            file: file_name.to_string(),
            line: e.position().map_or(0, |p| p.line() as usize),
            reason: csv_reason(&e),
        })?;
        let line = physical_line(&text, record.position());
        lines.push((line, record.iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok(lines)
}

/// The line a record starts on. The csv reader positions a record where the previous one ended, before
/// the blank lines it skips (and, with CRLF endings, before the previous "\n"): step over them.
fn physical_line(text: &str, position: Option<&csv::Position>) -> usize {
    let Some(position) = position else { return 0 };
    let mut line = position.line() as usize;
    let rest = text
        .as_bytes()
        .get(position.byte() as usize..)
        .unwrap_or_default();
    for byte in rest.iter().take_while(|b| matches!(b, b'\n' | b'\r')) {
        line += usize::from(*byte == b'\n');
    }
    line
}

fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(e) => format!("erreur de lecture ({e})"),
        _ => format!("format incorrect ({error})"),
    }
}

/// UTF-8 (its BOM removed) when the bytes are valid UTF-8, else Windows-1252, what French Excel writes.
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// The delimiter used most in the header line, outside quotes; `;` (French Excel) wins ties and the
/// degenerate one-column case.
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in header.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(slot) = counts.iter_mut().find(|(d, _)| *d == byte) {
            slot.1 += 1;
        }
    }
    // max_by_key returns the last maximum: reverse so the first listed (`;`) wins ties.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .map_or(b';', |(d, _)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_detected_from_the_header() {
        assert_eq!(detect_delimiter("Nom;Code;Email\nA,B;C;D"), b';');
        assert_eq!(detect_delimiter("\n\"Nom; ville\",Code,Email\n"), b',');
        assert_eq!(detect_delimiter("Nom\tCode\n"), b'\t');
        assert_eq!(detect_delimiter("Nom\n"), b';');
    }

    #[test]
    fn csv_rows_keep_physical_line_numbers() {
        let table = read_table(
            b"\xEF\xBB\xBF\nNom;Code\n\nLyon;69123\n;\n\"Saint-\nDenis\";93066\n\n\nParis;75056",
            "a.csv",
        )
        .unwrap();
        assert_eq!(table.headers, ["Nom", "Code"]);
        let lines: Vec<usize> = table.rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [4, 6, 10]);
        assert_eq!(table.rows[1].1, ["Saint-\nDenis", "93066"]);
        let crlf = read_table(b"Nom;Code\r\n\r\nLyon;69123\r\nParis;75056\r\n", "a.csv").unwrap();
        assert_eq!(
            crlf.rows.iter().map(|(line, _)| *line).collect::<Vec<_>>(),
            [3, 4]
        );
    }

    #[test]
    fn windows_1252_is_decoded() {
        let table = read_table(b"Nom,D\xE9partement\nSaint-\xC9tienne,Loire\n", "a.csv").unwrap();
        assert_eq!(table.headers[1], "Département");
        assert_eq!(table.rows[0].1[0], "Saint-Étienne");
    }

    #[test]
    fn numbers_lose_their_float_suffix() {
        assert_eq!(number_text(1001.0), "1001");
        assert_eq!(number_text(2.5), "2.5");
    }

    #[test]
    fn empty_and_headerless_files_are_refused() {
        assert!(matches!(
            read_table(b" \n\n", "a.csv"),
            Err(ImportError::EmptyFile(_))
        ));
        assert!(matches!(
            read_table(b"69123;a@b.fr\n", "a.csv"),
            Err(ImportError::NoHeader(_))
        ));
        assert!(matches!(
            read_table(b"PK\x03\x04garbage", "a.xlsx"),
            Err(ImportError::UnreadableSpreadsheet { .. })
        ));
    }
}
