//! Exports of any list as CSV (UTF-8 with BOM and semicolons, which French Excel opens as is) or XLSX.

use rust_xlsxwriter::{Format, Workbook};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// A cell a spreadsheet will not run: text that starts like a formula (`=`, `+`, `-`, `@`, a tab or a
/// carriage return) gets a leading apostrophe, which Excel and LibreOffice show as text (OWASP's CSV
/// injection advice). Numbers, negative ones included, stay numbers.
fn inert_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = cell.trim().replace(',', ".").parse::<f64>().is_ok();
    if formula && !number {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A table ready to be written: French headers and text cells.
pub struct Sheet {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Sheet {
    pub fn to_bytes(&self, format: ExportFormat) -> Result<Vec<u8>, String> {
        match format {
            ExportFormat::Csv => self.to_csv(),
            ExportFormat::Xlsx => self.to_xlsx(),
        }
    }

    fn to_csv(&self) -> Result<Vec<u8>, String> {
        let mut out = "\u{feff}".as_bytes().to_vec();
        {
            let mut writer = csv::WriterBuilder::new()
                .delimiter(b';')
                .from_writer(&mut out);
            writer
                .write_record(&self.headers)
                .map_err(|e| e.to_string())?;
            for row in &self.rows {
                writer
                    .write_record(row.iter().map(|cell| inert_cell(cell).into_owned()))
                    .map_err(|e| e.to_string())?;
            }
            writer.flush().map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    fn to_xlsx(&self) -> Result<Vec<u8>, String> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(&self.name).map_err(|e| e.to_string())?;
        let bold = Format::new().set_bold();
        for (col, header) in self.headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, col as u16, header.as_str(), &bold)
                .map_err(|e| e.to_string())?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            for (col, cell) in row.iter().enumerate() {
                sheet
                    .write_string(r as u32 + 1, col as u16, cell)
                    .map_err(|e| e.to_string())?;
            }
        }
        workbook.save_to_buffer().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_exports_open_in_french_excel() {
        let sheet = Sheet {
            name: "Cibles".into(),
            headers: ["Collectivité", "Notes"].map(String::from).to_vec(),
            rows: vec![vec!["Lyon".into(), "a;b".into()]],
        };
        let text = String::from_utf8(sheet.to_bytes(ExportFormat::Csv).unwrap()).unwrap();
        assert_eq!(text, "\u{feff}Collectivité;Notes\nLyon;\"a;b\"\n");
        let xlsx = sheet.to_bytes(ExportFormat::Xlsx).unwrap();
        assert!(xlsx.starts_with(b"PK"));
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_text() {
        let sheet = Sheet {
            name: "Réponses".into(),
            headers: ["Réponse", "Écart"].map(String::from).to_vec(),
            rows: vec![
                vec![
                    "=HYPERLINK(\"https://pirate.example\";\"clic\")".into(),
                    "-2,5".into(),
                ],
                vec!["+33 1 23".into(), "-1".into()],
                vec!["@SUM(A1)".into(), "\tx".into()],
                vec!["- tiret".into(), "3".into()],
            ],
        };
        let text = String::from_utf8(sheet.to_bytes(ExportFormat::Csv).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines[0],
            "\"'=HYPERLINK(\"\"https://pirate.example\"\";\"\"clic\"\")\";-2,5"
        );
        assert_eq!(lines[1], "'+33 1 23;-1");
        assert_eq!(lines[2], "'@SUM(A1);'\tx");
        assert_eq!(lines[3], "'- tiret;3");
    }
}
