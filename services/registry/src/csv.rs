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
use whistle_schemas::registry::{
    AuditEntry, ChangeAction, HolderSpec, HolderVersion, ItemDefinition, Keywords, SubjectKind, TownKind,
};

use crate::model::{Item, Registry};

/// The columns, in order. The first 14 are the original layout, which an import still takes
/// (the item's new columns then default: no subject kinds, not persuade-first, no competent
/// department, every town kind; every row for a district or the city).
pub const HEADER: [&str; 19] = [
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
    "town",
    "subject_kinds",
    "persuade_first",
    "department_type",
    "town_kinds",
];

/// How many of [`HEADER`]'s columns the original layout had.
const LEGACY_COLUMNS: usize = 14;

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
                    h.town.clone().unwrap_or_default(),
                    def.subject_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("|"),
                    def.persuade_first.to_string(),
                    def.department_type.clone().unwrap_or_default(),
                    def.town_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("|"),
                ]
                .into_iter(),
            );
        }
    }
    out
}

/// What a spreadsheet would read as the start of a formula (`=1+1`, `@SUM(…)`, `-2+3`), and the
/// quote that escapes it.
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// A cell a spreadsheet would run as a formula is exported with a leading `'` (shown, not run);
/// a cell that already starts with `'` gets one too, so [`restore`] gives back exactly the value.
fn neutralise(cell: String) -> String {
    if cell.starts_with(FORMULA_STARTS) { format!("'{cell}") } else { cell }
}

/// Undoes [`neutralise`] on import.
fn restore(cell: String) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest.to_owned(),
        _ => cell,
    }
}

fn write_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.map(neutralise).enumerate() {
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
pub fn parse_rows(text: &str) -> Result<Vec<Vec<String>>, RowError> {
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
    let rows: Vec<Vec<String>> =
        parse_rows(text).map_err(|e| vec![e])?.into_iter().map(|row| row.into_iter().map(restore).collect()).collect();
    let mut errors = Vec::new();
    let Some(header) = rows.first() else {
        return Err(vec![RowError { row: 0, column: None, message: "the file is empty".into() }]);
    };
    let columns = header.len();
    if !matches!(columns, LEGACY_COLUMNS | 19) || header.iter().map(|h| h.trim()).ne(HEADER[..columns].iter().copied())
    {
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
        if cells.len() != columns {
            errors.push(RowError {
                row,
                column: None,
                message: format!("expected {columns} cells, found {}", cells.len()),
            });
            continue;
        }
        // A column the file's layout lacks reads as empty.
        let cell = |name: &'static str| {
            let i = HEADER.iter().position(|h| *h == name).expect("known column");
            cells.get(i).map_or("", |c| c.trim())
        };
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
        let persuade_first = match cell("persuade_first") {
            "true" => true,
            "false" | "" => false,
            other => {
                err("persuade_first", format!("expected true or false, found {other:?}"));
                continue;
            }
        };
        let authority = match cell("authority") {
            "statutory" => Authority::Statutory,
            "empowered" => Authority::Empowered,
            "delegated" => Authority::Delegated,
            "department" => Authority::Department,
            "recovered" => Authority::Recovered,
            other => {
                err(
                    "authority",
                    format!("expected statutory, empowered, delegated, department or recovered, found {other:?}"),
                );
                continue;
            }
        };
        let list =
            |column: &'static str| cell(column).split(KEYWORD_SEPARATOR).map(str::trim).filter(|k| !k.is_empty());
        let subject_kinds: Result<Vec<SubjectKind>, String> = list("subject_kinds")
            .map(|k| match k {
                "individual" => Ok(SubjectKind::Individual),
                "unit" => Ok(SubjectKind::Unit),
                other => Err(format!("expected individual or unit, found {other:?}")),
            })
            .collect();
        let subject_kinds = match subject_kinds {
            Ok(k) => k,
            Err(message) => {
                err("subject_kinds", message);
                continue;
            }
        };
        let town_kinds: Result<Vec<TownKind>, String> = list("town_kinds")
            .map(|k| TownKind::parse(k).ok_or_else(|| format!("expected subdistrict, town or township, found {k:?}")))
            .collect();
        let town_kinds = match town_kinds {
            Ok(k) => k,
            Err(message) => {
                err("town_kinds", message);
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
            subject_kinds,
            persuade_first,
            department_type: Some(cell("department_type")).filter(|t| !t.is_empty()).map(str::to_owned),
            town_kinds,
            // The CSV carries no statutory ranges: `import` keeps what the item had.
            statutory: None,
            holders: vec![],
        };
        let version = HolderVersion {
            district: cell("district").to_owned(),
            town: Some(cell("town")).filter(|t| !t.is_empty()).map(str::to_owned),
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
                        && (&a.subject_kinds, a.persuade_first, &a.department_type, &a.town_kinds)
                            == (&b.subject_kinds, b.persuade_first, &b.department_type, &b.town_kinds)
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
    for (row, mut def) in defs {
        let existing = crate::ItemCode::parse(&def.code).ok().and_then(|c| registry.item(&c));
        // The CSV has no statutory columns: the item keeps the ranges it has.
        def.statutory = existing.and_then(|e| e.statutory.clone());
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
            towns: vec![],
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
    // No two items may share a name once the import is in place.
    if errors.is_empty() {
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        let replaced: std::collections::HashSet<&str> = changed.iter().map(|i| i.code.as_str()).collect();
        let all = registry.items().filter(|i| !replaced.contains(i.code.as_str())).chain(changed.iter());
        for item in all {
            if let Some(other) = names.insert(item.names.zh.as_str(), item.code.as_str()) {
                errors.push(RowError {
                    row: 0,
                    column: Some("name_zh"),
                    message: format!("items {other} and {} have the same name {}", item.code, item.names.zh),
                });
            }
        }
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
    fn cells_a_spreadsheet_would_run_are_exported_inert_and_import_unchanged() {
        for value in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "'quoted", "'=both", "plain", "", "a=b"] {
            let exported = neutralise(value.to_owned());
            assert!(!exported.starts_with(['=', '+', '-', '@']), "{value:?} exported as {exported:?}");
            assert_eq!(restore(exported), value, "{value:?} round-trips");
        }
        let mut row = String::new();
        write_row(&mut row, ["=cmd|' /C calc'!A0".to_owned(), "ok".to_owned()].into_iter());
        assert_eq!(row, "'=cmd|' /C calc'!A0,ok\r\n");
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
        for (_, mut def) in defs {
            // The CSV has no statutory columns; as `import` does, the item keeps its ranges.
            let code = crate::ItemCode::parse(&def.code).expect("an item code");
            def.statutory = r.item(&code).and_then(|i| i.statutory.clone());
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
        csv.push_str("CQ-NEW-900,新,New,market,x,maybe,,,*,towns,empowered,2030-01-01T00:00:00Z,,x,,,false,,\r\n");
        csv.push_str("CQ-NEW-901,新,New,market,x,true,,,*,towns,granted,2030-01-01T00:00:00Z,,x,,,false,,\r\n");
        csv.push_str("CQ-NEW-902,新,New,market,x,true,,,509999,towns,empowered,2030-01-01T00:00:00Z,,x,,,false,,\r\n");
        csv.push_str("CQ-NEW-903,新,New,market,x,true\r\n");
        let rows = csv.lines().count();
        let errors = import(&r, &csv, "test", Utc::now()).expect_err("broken rows");
        let found: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert!(found.contains(&(rows - 3, Some("illustrative"))), "{errors:?}");
        assert!(found.contains(&(rows - 2, Some("authority"))), "{errors:?}");
        assert!(found.contains(&(rows, None)), "{errors:?}");
    }

    #[test]
    fn a_file_in_the_original_fourteen_column_layout_still_imports() {
        let r = registry();
        let csv = format!(
            "{}\r\nCQ-NEW-910,旧格式事项,Old layout,market,《x》第一条,true,,,*,MS,department,2030-01-01T00:00:00Z,,x\r\n",
            HEADER[..LEGACY_COLUMNS].join(",")
        );
        let import = import(&r, &csv, "test", Utc::now()).expect("the old layout imports");
        assert_eq!(import.changed.len(), 1);
        assert!(import.changed[0].subject_kinds.is_empty() && !import.changed[0].persuade_first);
    }

    #[test]
    fn a_towns_own_row_round_trips_and_names_its_town() {
        let r = registry();
        let csv = export(&r);
        let town_rows: Vec<&str> = csv.lines().filter(|l| l.contains(",empowered,") && l.contains("CQ-OPT-")).collect();
        assert!(
            town_rows.iter().any(|l| l.split(',').nth(14).is_some_and(|t| t.len() == 9)),
            "a town column: {town_rows:?}"
        );
        let moved = csv.replacen(&town_rows[1].split(',').nth(14).expect("town").to_string(), "500103999", 1);
        let errors = import(&r, &moved, "test", Utc::now()).expect_err("an unknown town is refused");
        assert!(
            errors.iter().any(|e| e.message.contains("unknown town") || e.message.contains("rewritten")),
            "{errors:?}"
        );
    }

    #[test]
    fn an_import_that_gives_two_items_one_name_is_refused() {
        let r = registry();
        let mut csv = export(&r);
        csv.push_str("CQ-NEW-920,占道经营,Dup,market,x,true,,,*,MS,department,2030-01-01T00:00:00Z,,x,,,false,,\r\n");
        let errors = import(&r, &csv, "test", Utc::now()).expect_err("duplicate name");
        assert!(errors.iter().any(|e| e.message.contains("same name")), "{errors:?}");
    }

    #[test]
    fn an_import_may_not_rewrite_a_past_holder() {
        let r = registry();
        let csv = export(&r);
        let changed = csv.replacen(",EE,department,", ",towns,empowered,", 1);
        assert_ne!(changed, csv);
        let errors = import(&r, &changed, "test", Utc::now()).expect_err("history is kept");
        assert!(errors[0].message.contains("history is never rewritten"), "{errors:?}");
    }
}
