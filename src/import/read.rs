//! Reading a spreadsheet into a table of text cells, from XLSX (and the other workbook formats calamine
//! knows) or CSV as French office software writes it.
//!
//! Every cell becomes text here, so the plan validates one kind of value whatever the source: integer-valued
//! numbers lose Excel's ".0", date cells become ISO dates. Rows keep the line number a person sees in their
//! spreadsheet program, so messages can point at the right line even when blank lines were skipped.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};

use super::{ImportError, thousands};

/// The limits of what an import reads, checked while reading and before anything is allocated for a cell,
/// so no file can take relais down: the target spreadsheet of the Club holds a few hundred lines.
pub mod limits {
    /// Largest file read, whatever its format (the web upload is also bounded by `server.max_upload_mb`).
    pub const FILE_BYTES: usize = 64 << 20;
    /// Last line number a filled cell may have (the header line included).
    pub const LINES: usize = 20_000;
    /// Last column a filled cell may be in.
    pub const COLUMNS: usize = 100;
    /// Cells of the table, blank ones inside each line included.
    pub const CELLS: usize = 1_000_000;
    /// Characters of one cell.
    pub const CELL_CHARS: usize = 10_000;
    /// Bytes of text over all cells (a shared string repeated in every cell counts each time).
    pub const TEXT_BYTES: usize = 32 << 20;
    /// Unpacked bytes of one part of an XLSX file, and of all its parts.
    pub const PART_BYTES: u64 = 32 << 20;
    pub const UNPACKED_BYTES: u64 = 64 << 20;
    /// Unpacked over packed size of a part of over 1 MiB: XML packs 10 to 20 times, a zip bomb 1,000 times.
    pub const PACK_RATIO: u64 = 100;
    /// Parts of an XLSX file.
    pub const PARTS: usize = 10_000;
}

/// The cells of a file: a header row and the data rows, each with its 1-based line number in the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Reads XLSX (recognised by extension or by the zip signature) or CSV bytes. Blank rows are skipped but still
/// counted in line numbers; cells are trimmed. A file past one of the [`limits`] is refused with
/// [`ImportError::TooLarge`], saying which.
pub fn read_table(bytes: &[u8], file_name: &str) -> Result<Table, ImportError> {
    if bytes.len() > limits::FILE_BYTES {
        return Err(too_large(
            file_name,
            format!(
                "il pèse plus de {} Mo",
                thousands((limits::FILE_BYTES >> 20) as i64)
            ),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::EmptyFile(file_name.to_string()));
    }
    let lower = file_name.to_lowercase();
    if let Some(format) = [".xlsb", ".xls", ".ods"]
        .iter()
        .find(|e| lower.ends_with(*e))
    {
        return Err(ImportError::UnsupportedFormat {
            file: file_name.to_string(),
            format: format.to_string(),
        });
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        // The OLE signature of a legacy .xls file renamed.
        return Err(ImportError::UnsupportedFormat {
            file: file_name.to_string(),
            format: ".xls".into(),
        });
    }
    let workbook = lower.ends_with(".xlsx") || lower.ends_with(".xlsm");
    // A workbook renamed ".csv" is still read as one.
    let lines = if workbook || bytes.starts_with(b"PK\x03\x04") {
        read_workbook(bytes, file_name)?
    } else if binary(bytes) {
        // A picture, a PDF or an archive named ".csv": text never holds NUL or most control bytes.
        return Err(ImportError::NotASpreadsheet(file_name.to_string()));
    } else {
        read_csv(bytes, file_name)?
    };
    into_table(lines, file_name)
}

fn too_large(file_name: &str, limit: String) -> ImportError {
    ImportError::TooLarge {
        file: file_name.to_string(),
        limit,
    }
}

/// Keeps count of what a file has filled so far and refuses the cell that goes past a limit.
#[derive(Default)]
struct Budget {
    cells: usize,
    text_bytes: usize,
}

impl Budget {
    /// Checks the filled cell at `line` (1-based) and `column` (1-based) before it is kept.
    fn cell(&mut self, line: usize, column: usize, text: &str) -> Result<(), String> {
        if line > limits::LINES {
            return Err(format!(
                "il dépasse {} lignes (une cellule est remplie en ligne {})",
                thousands(limits::LINES as i64),
                thousands(line as i64)
            ));
        }
        if column > limits::COLUMNS {
            return Err(format!(
                "il dépasse {} colonnes (une cellule est remplie en colonne {}, ligne {})",
                thousands(limits::COLUMNS as i64),
                thousands(column as i64),
                thousands(line as i64)
            ));
        }
        if text.len() > limits::CELL_CHARS && text.chars().count() > limits::CELL_CHARS {
            return Err(format!(
                "la cellule en ligne {}, colonne {} dépasse {} caractères",
                thousands(line as i64),
                column,
                thousands(limits::CELL_CHARS as i64)
            ));
        }
        self.text_bytes += text.len();
        if self.text_bytes > limits::TEXT_BYTES {
            return Err(format!(
                "ses cellules dépassent {} Mo de texte",
                limits::TEXT_BYTES >> 20
            ));
        }
        Ok(())
    }

    /// Counts a line of `width` cells, the blank ones between filled cells included.
    fn line(&mut self, width: usize) -> Result<(), String> {
        self.cells += width;
        if self.cells > limits::CELLS {
            return Err(format!(
                "il dépasse {} cellules",
                thousands(limits::CELLS as i64)
            ));
        }
        Ok(())
    }
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

/// Checks every part of an XLSX (zip) file before calamine opens it: their number, each part's unpacked size
/// and packing ratio as declared, and then as actually unpacked, since a zip's declared sizes can lie.
fn check_zip_parts(bytes: &[u8]) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("archive illisible ({e})"))?;
    if archive.len() > limits::PARTS {
        return Err(format!(
            "il contient plus de {} parties",
            thousands(limits::PARTS as i64)
        ));
    }
    let mut unpacked_total = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    for index in 0..archive.len() {
        let mut part = archive
            .by_index(index)
            .map_err(|e| format!("archive illisible ({e})"))?;
        let name = part
            .name()
            .map_err(|e| format!("archive illisible ({e})"))?
            .to_string();
        let over_part_limit = || {
            format!(
                "sa partie « {name} » dépasse {} Mo une fois décompressée",
                limits::PART_BYTES >> 20
            )
        };
        if part.size() > 1 << 20 && part.size() > part.compressed_size() * limits::PACK_RATIO {
            return Err(format!(
                "sa partie « {name} » se décompresse {} fois plus grande qu'elle n'est : c'est une bombe de décompression",
                thousands((part.size() / part.compressed_size().max(1)) as i64)
            ));
        }
        if part.size() > limits::PART_BYTES {
            return Err(over_part_limit());
        }
        let mut unpacked = 0u64;
        loop {
            let read = part
                .read(&mut buffer)
                .map_err(|e| {
                    format!("archive illisible : sa partie « {name} » ne se décompresse pas comme elle l'annonce ({e})")
                })?;
            if read == 0 {
                break;
            }
            unpacked += read as u64;
            unpacked_total += read as u64;
            if unpacked > limits::PART_BYTES {
                return Err(over_part_limit());
            }
            if unpacked_total > limits::UNPACKED_BYTES {
                return Err(format!(
                    "il dépasse {} Mo une fois décompressé",
                    limits::UNPACKED_BYTES >> 20
                ));
            }
        }
    }
    Ok(())
}

/// The filled cells of the first sheet, read one at a time from the sheet's XML: the sheet's own `dimension`
/// tag is not trusted (a file may declare, or fill, A1 and XFD1048576 only).
fn read_workbook(bytes: &[u8], file_name: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let unreadable = |reason: String| ImportError::UnreadableSpreadsheet {
        file: file_name.to_string(),
        reason,
    };
    check_zip_parts(bytes).map_err(|limit| {
        if limit.starts_with("archive illisible") {
            unreadable(format!("format non reconnu ou fichier abîmé : {limit}"))
        } else {
            too_large(file_name, limit)
        }
    })?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        if bytes_name_an_ods(bytes) {
            ImportError::UnsupportedFormat {
                file: file_name.to_string(),
                format: ".ods".into(),
            }
        } else {
            unreadable(format!("format non reconnu ou fichier abîmé ({e})"))
        }
    })?;
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        return Err(unreadable("le classeur ne contient aucune feuille".into()));
    };
    let sheet_error =
        |e: calamine::XlsxError| unreadable(format!("la première feuille est illisible ({e})"));
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(sheet_error)?;
    let mut budget = Budget::default();
    let mut filled: BTreeMap<usize, Vec<(usize, String)>> = BTreeMap::new();
    while let Some(cell) = reader.next_cell().map_err(sheet_error)? {
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.is_empty() {
            continue;
        }
        let (row, column) = cell.get_position();
        let (line, column) = (row as usize + 1, column as usize + 1);
        budget
            .cell(line, column, &text)
            .map_err(|limit| too_large(file_name, limit))?;
        filled.entry(line).or_default().push((column, text));
    }
    let mut lines = Vec::with_capacity(filled.len());
    for (line, cells) in filled {
        let width = cells.iter().map(|(column, _)| *column).max().unwrap_or(0);
        budget
            .line(width)
            .map_err(|limit| too_large(file_name, limit))?;
        let mut row = vec![String::new(); width];
        for (column, text) in cells {
            row[column - 1] = text;
        }
        lines.push((line, row));
    }
    Ok(lines)
}

/// Whether a zip is an OpenDocument file (its first part is "mimetype", naming the kind).
fn bytes_name_an_ods(bytes: &[u8]) -> bool {
    bytes.get(30..38) == Some(b"mimetype")
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
    let mut budget = Budget::default();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader
            .read_record(&mut record)
            .map_err(|e| ImportError::UnreadableCsv {
                file: file_name.to_string(),
                line: e.position().map_or(0, |p| p.line() as usize),
                reason: csv_reason(&e),
            })?;
        if !more {
            break;
        }
        let line = physical_line(&text, record.position());
        // Trailing blank cells (";;;" to the end of the line) are not part of the table.
        let width = (0..record.len())
            .rev()
            .find(|&column| !record[column].trim().is_empty())
            .map_or(0, |last| last + 1);
        for (column, cell) in record.iter().take(width).enumerate() {
            budget
                .cell(line, column + 1, cell.trim())
                .map_err(|limit| too_large(file_name, limit))?;
        }
        budget
            .line(width)
            .map_err(|limit| too_large(file_name, limit))?;
        lines.push((
            line,
            record
                .iter()
                .take(width)
                .map(|c| c.trim().to_string())
                .collect(),
        ));
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
    fn files_past_a_limit_are_refused_naming_it() {
        let refusal = |bytes: &[u8], name: &str| match read_table(bytes, name) {
            Err(ImportError::TooLarge { limit, .. }) => limit,
            other => panic!("{other:?}"),
        };
        let mut lines = String::from("Nom;Code\n");
        for _ in 0..limits::LINES {
            lines.push_str("Lyon;69123\n");
        }
        assert_eq!(
            refusal(lines.as_bytes(), "a.csv"),
            "il dépasse 20 000 lignes (une cellule est remplie en ligne 20 001)"
        );
        let long = format!("Nom;Notes\nLyon;{}\n", "é".repeat(limits::CELL_CHARS + 1));
        assert_eq!(
            refusal(long.as_bytes(), "a.csv"),
            "la cellule en ligne 2, colonne 2 dépasse 10 000 caractères"
        );
        // Blank cells to the end of a line do not count as columns.
        let wide = format!("Nom;Code{}\nLyon;69123\n", ";".repeat(5_000));
        assert_eq!(
            read_table(wide.as_bytes(), "a.csv").unwrap().headers.len(),
            2
        );
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "Nom").unwrap();
        sheet.write_string(0, 100, "Trop loin").unwrap();
        assert_eq!(
            refusal(&workbook.save_to_buffer().unwrap(), "a.xlsx"),
            "il dépasse 100 colonnes (une cellule est remplie en colonne 101, ligne 1)"
        );
    }

    #[test]
    fn only_xlsx_and_csv_are_read() {
        for name in ["a.ods", "a.xls", "a.xlsb"] {
            assert!(matches!(
                read_table(b"PK\x03\x04", name),
                Err(ImportError::UnsupportedFormat { .. })
            ));
        }
        assert!(matches!(
            read_table(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "a.csv"),
            Err(ImportError::UnsupportedFormat { .. })
        ));
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
