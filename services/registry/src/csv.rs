//! The catalogue as CSV, the way a city office keeps it in a spreadsheet: one row per holder
//! version, the item's own columns repeated on each of its rows.
//!
//! Import is all or nothing: every row is checked, every error is reported with its row number
//! (1 = the header) and column, and the registry changes only when there is none. An import may
//! add items and append versions, but it may not change or drop a holder that was in force before
//! now: history is never rewritten.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use whistle_schemas::events::Authority;
use whistle_schemas::registry::{AuditEntry, ChangeAction, HolderSpec, HolderVersion, ItemDefinition, Keywords};

use crate::model::{Item, Registry};

pub const HEADER: [&str; 14] = [
    "code",
    "name_zh",
    "name_en",
    "category",
    "legal_basis",
    "illustrative",
    "keywords_zh",
    "keywords_en",
    "district",
    "holder",
    "authority",
    "effective_from",
    "effective_to",
    "reason",
];

/// Separates keywords inside one cell.
const KEYWORD_SEPARATOR: char = '|';

/// A problem with one row (or the file, row 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// Stop collecting after this many errors: a wholly wrong file should not produce a huge answer.
const MAX_ERRORS: usize = 100;

/// The whole catalogue as CSV.
pub fn export(registry: &Registry) -> String {
    let mut out = String::new();
    write_row(&mut out, HEADER.iter().map(|s| s.to_string()));
    for item in registry.items() {
        let def = item.to_definition();
        for h in &def.holders {
            write_row(
                &mut out,
                [
                    def.code.clone(),
                    def.names.zh.clone(),
                    def.names.en.clone(),
                    def.category.clone(),
                    def.legal_basis.clone(),
                    def.illustrative.to_string(),
                    def.keywords.zh.join("|"),
                    def.keywords.en.join("|"),
                    h.district.clone(),
                    match &h.holder {
                        HolderSpec::Towns => "towns".to_owned(),
                        HolderSpec::Department { department_type } => department_type.clone(),
                    },
                    h.authority.as_str().to_owned(),
                    h.effective_from.to_rfc3339(),
                    h.effective_to.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    h.reason.clone(),
                ]
                .into_iter(),
            );
        }
    }
    out
}

fn write_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

/// Splits CSV text (RFC 4180: quoted cells, doubled quotes, newlines inside quotes) into rows.
fn parse_rows(text: &str) -> Result<Vec<Vec<String>>, RowError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(RowError { row: rows.len() + 1, column: None, message: "unterminated quoted cell".into() });
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

/// Parses the catalogue into item definitions, each with the row number of its first row.
pub fn parse(text: &str) -> Result<Vec<(usize, ItemDefinition)>, Vec<RowError>> {
    let rows = parse_rows(text).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let Some(header) = rows.first() else {
        return Err(vec![RowError { row: 0, column: None, message: "the file is empty".into() }]);
    };
    if header.iter().map(|h| h.trim()).ne(HEADER.iter().copied()) {
        return Err(vec![RowError {
            row: 1,
            column: None,
            message: format!("the header must be {}", HEADER.join(",")),
        }]);
    }
    let mut items: BTreeMap<String, (usize, ItemDefinition)> = BTreeMap::new();
    for (index, cells) in rows.iter().enumerate().skip(1) {
        let row = index + 1;
        if cells.len() == 1 && cells[0].trim().is_empty() {
            continue; // a blank line
        }
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if cells.len() != HEADER.len() {
            errors.push(RowError {
                row,
                column: None,
                message: format!("expected {} cells, found {}", HEADER.len(), cells.len()),
            });
            continue;
        }
        let cell = |name: &'static str| cells[HEADER.iter().position(|h| *h == name).expect("known column")].trim();
        let mut err =
            |column: &'static str, message: String| errors.push(RowError { row, column: Some(column), message });
        let illustrative = match cell("illustrative") {
            "true" => true,
            "false" => false,
            other => {
                err("illustrative", format!("expected true or false, found {other:?}"));
                continue;
            }
        };
        let authority = match cell("authority") {
            "statutory" => Authority::Statutory,
            "empowered" => Authority::Empowered,
            "delegated" => Authority::Delegated,
            "recovered" => Authority::Recovered,
            other => {
                err("authority", format!("expected statutory, empowered, delegated or recovered, found {other:?}"));
                continue;
            }
        };
        let time = |column: &'static str| {
            DateTime::parse_from_rfc3339(cell(column)).map(|t| t.with_timezone(&Utc)).map_err(|e| (column, e))
        };
        let effective_from = match time("effective_from") {
            Ok(t) => t,
            Err((c, e)) => {
                err(c, format!("not an RFC 3339 time: {e}"));
                continue;
            }
        };
        let effective_to = match cell("effective_to") {
            "" => None,
            _ => match time("effective_to") {
                Ok(t) => Some(t),
                Err((c, e)) => {
                    err(c, format!("not an RFC 3339 time: {e}"));
                    continue;
                }
            },
        };
        let holder = match cell("holder") {
            "" => {
                err("holder", "must be `towns` or a department type".into());
                continue;
            }
            "towns" => HolderSpec::Towns,
            t => HolderSpec::Department { department_type: t.to_owned() },
        };
        let keywords = |c: &'static str| -> Vec<String> {
            cell(c).split(KEYWORD_SEPARATOR).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
        };
        let def = ItemDefinition {
            code: cell("code").to_owned(),
            names: whistle_schemas::Names { zh: cell("name_zh").to_owned(), en: cell("name_en").to_owned() },
            category: cell("category").to_owned(),
            legal_basis: cell("legal_basis").to_owned(),
            illustrative,
            keywords: Keywords { zh: keywords("keywords_zh"), en: keywords("keywords_en") },
            holders: vec![],
        };
        let version = HolderVersion {
            district: cell("district").to_owned(),
            holder,
            authority,
            effective_from,
            effective_to,
            reason: cell("reason").to_owned(),
        };
        match items.get_mut(&def.code) {
            None => {
                let mut def = def;
                def.holders.push(version);
                items.insert(def.code.clone(), (row, def));
            }
            Some((first, existing)) => {
                let same = |a: &ItemDefinition, b: &ItemDefinition| {
                    (&a.names, &a.category, &a.legal_basis, a.illustrative, &a.keywords)
                        == (&b.names, &b.category, &b.legal_basis, b.illustrative, &b.keywords)
                };
                if !same(existing, &def) {
                    let message = format!("the item's own columns differ from its first row {first}");
                    errors.push(RowError { row, column: None, message });
                    continue;
                }
                existing.holders.push(version);
            }
        }
    }
    if errors.is_empty() { Ok(items.into_values().collect()) } else { Err(errors) }
}

/// What an import would change.
#[derive(Debug)]
pub struct Import {
    pub rows: usize,
    pub items: usize,
    /// The new versions of the items whose content changed (or that are new).
    pub changed: Vec<Item>,
}

/// Checks a whole CSV catalogue against `registry` at `now`; nothing is applied.
pub fn import(registry: &Registry, text: &str, actor: &str, now: DateTime<Utc>) -> Result<Import, Vec<RowError>> {
    let defs = parse(text)?;
    let rows = defs.iter().map(|(_, d)| d.holders.len()).sum();
    let items = defs.len();
    let mut errors = Vec::new();
    let mut changed = Vec::new();
    for (row, def) in defs {
        let existing = crate::ItemCode::parse(&def.code).ok().and_then(|c| registry.item(&c));
        if existing.is_some_and(|e| e.to_definition() == def) {
            continue;
        }
        let version = existing.map_or(1, |e| e.version + 1);
        let mut audit = existing.map(|e| e.audit.clone()).unwrap_or_default();
        audit.push(AuditEntry {
            version,
            recorded_at: now,
            actor: actor.to_owned(),
            action: ChangeAction::Import,
            district: "*".into(),
            effective_from: now,
            reason: "CSV import".into(),
        });
        let item = match registry.build(def, version, audit) {
            Ok(item) => item,
            Err(e) => {
                errors.push(RowError { row, column: None, message: e.to_string() });
                continue;
            }
        };
        if let Some(message) = existing.and_then(|e| rewrites_history(e, &item, now)) {
            errors.push(RowError { row, column: None, message });
            continue;
        }
        changed.push(item);
    }
    if errors.is_empty() { Ok(Import { rows, items, changed }) } else { Err(errors) }
}

/// Every holder interval that began before `now` must still be there, unchanged up to `now`.
fn rewrites_history(old: &Item, new: &Item, now: DateTime<Utc>) -> Option<String> {
    for a in old.assignments.iter().filter(|a| a.from < now) {
        let kept = new.assignments.iter().any(|b| {
            b.scope == a.scope
                && b.holder == a.holder
                && b.authority == a.authority
                && b.from == a.from
                && (b.to == a.to || (a.to.is_none_or(|t| t > now) && b.to.is_none_or(|t| t >= now)))
        });
        if !kept {
            return Some(format!(
                "item {}: the {} holder in {} from {} is missing or changed; history is never rewritten",
                old.code,
                a.authority.as_str(),
                a.scope,
                a.from.to_rfc3339()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        Registry::load(&path).expect("sample registry loads")
    }

    #[test]
    fn the_catalogue_round_trips_through_csv() {
        let r = registry();
        let csv = export(&r);
        let import = import(&r, &csv, "test", Utc::now()).expect("its own export imports");
        assert!(import.changed.is_empty(), "nothing changes: {:?}", import.changed.first().map(|i| &i.code));
        assert_eq!(import.items, r.items().count());
        let defs = parse(&csv).expect("parses");
        let mut again = r.clone();
        for (_, def) in defs {
            let item = r.build(def, 0, vec![]).expect("valid");
            again = again.with_item(item);
        }
        assert_eq!(export(&again), csv, "export → import → export is identical");
        for item in r.items() {
            let other = again.item(&item.code).expect("present");
            assert_eq!(other.to_definition(), item.to_definition());
        }
    }

    #[test]
    fn broken_rows_are_reported_by_row_and_column_and_nothing_is_applied() {
        let r = registry();
        let mut csv = export(&r);
        csv.push_str("CQ-NEW-900,新,New,market,x,maybe,,,*,towns,empowered,2030-01-01T00:00:00Z,,x\r\n");
        csv.push_str("CQ-NEW-901,新,New,market,x,true,,,*,towns,granted,2030-01-01T00:00:00Z,,x\r\n");
        csv.push_str("CQ-NEW-902,新,New,market,x,true,,,509999,towns,empowered,2030-01-01T00:00:00Z,,x\r\n");
        csv.push_str("CQ-NEW-903,新,New,market,x,true\r\n");
        let rows = csv.lines().count();
        let errors = import(&r, &csv, "test", Utc::now()).expect_err("broken rows");
        let found: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert!(found.contains(&(rows - 3, Some("illustrative"))), "{errors:?}");
        assert!(found.contains(&(rows - 2, Some("authority"))), "{errors:?}");
        assert!(found.contains(&(rows, None)), "{errors:?}");
    }

    #[test]
    fn an_import_may_not_rewrite_a_past_holder() {
        let r = registry();
        let csv = export(&r);
        let changed = csv.replacen(",EE,recovered,", ",towns,empowered,", 1);
        assert_ne!(changed, csv);
        let errors = import(&r, &changed, "test", Utc::now()).expect_err("history is kept");
        assert!(errors[0].message.contains("history is never rewritten"), "{errors:?}");
    }
}
