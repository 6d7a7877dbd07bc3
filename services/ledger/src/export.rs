//! Exports of the list: CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese right, and
//! every cell that a spreadsheet would take for a formula neutralised) streamed page by page,
//! and XLSX written with rust_xlsxwriter's constant-memory mode to a temporary file, then
//! streamed. Both read the ledger a page at a time: memory stays bounded whatever the size.

use std::io::{Seek as _, SeekFrom};

use anyhow::Context as _;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use tokio::sync::mpsc;
use whistle_auth::Principal;
use whistle_schemas::api::WhistleView;

use crate::http::shown;
use crate::query::{ListQuery, Scope, Sort};
use crate::record::Record;
use crate::store::LedgerStore;

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// Rows read from the database at once.
pub const PAGE_ROWS: i64 = 1000;
/// Pages waiting for a slow client at most (CSV) or for the workbook writer (XLSX).
const QUEUED_PAGES: usize = 4;
/// Rows of one worksheet at most, with its header row (Excel's limit is 1,048,576).
const SHEET_ROWS: u32 = 1_048_575;
const BOM: &str = "\u{feff}";

/// The exported columns.
pub const HEADERS: [&str; 18] = [
    "id",
    "status",
    "district",
    "town",
    "department",
    "department_name",
    "item",
    "description",
    "address",
    "raised_at",
    "dispatched_at",
    "acknowledged_at",
    "arrived_at",
    "resolved_at",
    "overdue",
    "breaches",
    "steps",
    "hotline_order",
];

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&crate::query::cst()).to_rfc3339()).unwrap_or_default()
}

/// One case's cells, in [`HEADERS`] order.
pub fn cells(view: &WhistleView) -> Vec<String> {
    let r = Record::of(view, serde_json::Value::Null);
    vec![
        view.id.to_string(),
        view.status.as_str().to_owned(),
        view.district.clone(),
        view.town.clone(),
        view.department.as_ref().map(|d| d.code.clone()).unwrap_or_default(),
        view.department.as_ref().map(|d| d.names.zh.clone()).unwrap_or_default(),
        view.item.clone(),
        view.description.clone(),
        view.location.address.clone(),
        time(Some(view.raised_at)),
        time(r.dispatched_at),
        time(r.acknowledged_at),
        time(r.arrived_at),
        time(r.resolved_at),
        r.overdue.to_string(),
        r.breaches.to_string(),
        r.steps.to_string(),
        view.hotline.as_ref().map(|h| h.order_no.clone()).unwrap_or_default(),
    ]
}

/// A cell a spreadsheet must show as text: one starting with `=`, `+`, `-` or `@` (or a tab or
/// carriage return, which some programs skip before looking) gets a leading `'`.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}").into() } else { cell.into() }
}

/// A CSV field (RFC 4180), neutralised.
pub fn csv_field(cell: &str) -> String {
    let cell = neutralise(cell);
    if cell.contains([',', '"', '\n', '\r']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.into_owned() }
}

fn csv_line(out: &mut String, cells: &[String]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(cell));
    }
    out.push_str("\r\n");
}

/// Sends every page of `query` (in raise order) to `pages`, until done or the receiver left.
async fn pages(
    store: LedgerStore,
    principal: Principal,
    scope: Scope,
    query: ListQuery,
    pages: mpsc::Sender<anyhow::Result<Vec<WhistleView>>>,
) {
    let sort = Sort::RaisedDesc;
    let mut after = None;
    loop {
        match store.page(&scope, &query.filter, sort, after, PAGE_ROWS).await {
            Ok((rows, more)) => {
                after = rows.last().map(|r| (r.raised_at, r.id));
                let views = rows.into_iter().map(|r| shown(&principal, r.view)).collect();
                if pages.send(Ok(views)).await.is_err() || !more {
                    return;
                }
            }
            Err(err) => {
                let _ = pages.send(Err(err)).await;
                return;
            }
        }
    }
}

/// The CSV body: BOM and header first, then one chunk per page.
pub fn csv_stream(
    store: LedgerStore,
    principal: Principal,
    scope: Scope,
    query: ListQuery,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let (tx, rx) = mpsc::channel(QUEUED_PAGES);
    tokio::spawn(pages(store, principal, scope, query, tx));
    let mut head = String::from(BOM);
    csv_line(&mut head, &HEADERS.map(str::to_owned));
    let head = futures::stream::once(async move { Ok(Bytes::from(head)) });
    let body = futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |page| match page {
        Ok(views) => {
            let mut out = String::with_capacity(views.len() * 256);
            for view in &views {
                csv_line(&mut out, &cells(view));
            }
            Ok(Bytes::from(out))
        }
        Err(err) => {
            // The status line is gone already: the client sees a cut answer, not a complete one.
            tracing::error!(error = %format_args!("{err:#}"), "CSV export failed midway");
            Err(std::io::Error::other("the export failed midway"))
        }
    });
    futures::StreamExt::chain(head, body)
}

/// The XLSX workbook of `query`, written to an unlinked temporary file (rewound, ready to send).
pub async fn xlsx_file(
    store: LedgerStore,
    principal: Principal,
    scope: Scope,
    query: ListQuery,
) -> anyhow::Result<std::fs::File> {
    let (tx, mut rx) = mpsc::channel(QUEUED_PAGES);
    // Aborted if this future is dropped (the client went away): the writer then sees the end of
    // the pages, finishes a short workbook nobody reads and lets it go with its unlinked file.
    let feeder = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(pages(store, principal, scope, query, tx)));
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<std::fs::File> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let mut sheets = 0usize;
        let mut row = SHEET_ROWS;
        while let Some(page) = rx.blocking_recv() {
            for view in page? {
                if row >= SHEET_ROWS {
                    sheets += 1;
                    let sheet = workbook.add_worksheet_with_constant_memory();
                    sheet.set_name(format!("whistles-{sheets}"))?;
                    for (col, h) in HEADERS.iter().enumerate() {
                        sheet.write_string(0, col as u16, *h)?;
                    }
                    row = 0;
                }
                row += 1;
                let sheet = workbook.worksheet_from_index(sheets - 1)?;
                for (col, cell) in cells(&view).iter().enumerate() {
                    sheet.write_string(row, col as u16, neutralise(cell))?;
                }
            }
        }
        if sheets == 0 {
            let sheet = workbook.add_worksheet_with_constant_memory();
            sheet.set_name("whistles-1")?;
            for (col, h) in HEADERS.iter().enumerate() {
                sheet.write_string(0, col as u16, *h)?;
            }
        }
        save(&mut workbook)
    });
    let file = writer.await.context("the workbook writer stopped")?;
    feeder.abort();
    file
}

/// Saves `workbook` to an unlinked temporary file, rewound.
pub fn save(workbook: &mut rust_xlsxwriter::Workbook) -> anyhow::Result<std::fs::File> {
    let path = std::env::temp_dir().join(format!("whistle-ledger-{}.xlsx", uuid::Uuid::new_v4().simple()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    // Unlinked at once: the file goes away with the answer, or with the process.
    let _ = std::fs::remove_file(&path);
    workbook.save_to_writer(&mut file).context("writing the workbook")?;
    file.seek(SeekFrom::Start(0)).context("rewinding the workbook")?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_csv_quoting_holds() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("占道经营, 夜间"), "\"占道经营, 夜间\"");
        assert_eq!(csv_field("2026-03-01T08:00:00+08:00"), "2026-03-01T08:00:00+08:00");
    }
}
