//! The OpenAPI document and the routers agree: every route the services serve is an operation
//! of the document, and every operation is served. Read from the routers' source, where routes
//! are declared (`.route("PATH", get(…).post(…))`), so a new route without an operation fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// The files that declare the API's routes (intake, registry, SLA, ledger, notify).
const ROUTER_SOURCES: &[&str] = &[
    "services/intake/src/routes/mod.rs",
    "services/registry/src/service/http.rs",
    "services/sla/src/startup.rs",
    "services/ledger/src/startup.rs",
    "services/notify/src/startup.rs",
];

fn declared_routes() -> BTreeSet<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut routes = BTreeSet::new();
    for file in ROUTER_SOURCES {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        // `.route("PATH", handlers)`, on one line or (as rustfmt breaks long ones) several.
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else { continue };
            let (path, after) = rest.split_once('"').expect("a quoted path");
            // Up to the parenthesis that closes `.route(`.
            let mut depth = 1usize;
            let end = after
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(after.len(), |(i, _)| i);
            let handlers = &after[..end];
            let line = format!(".route(\"{path}\"{})", handlers.split_whitespace().collect::<Vec<_>>().join(" "));
            let handlers = line.as_str();
            let mut found = false;
            for method in ["get", "post", "put", "patch", "delete"] {
                if handlers.contains(&format!(" {method}(")) || handlers.contains(&format!(".{method}(")) {
                    routes.insert((method.to_owned(), path.to_owned()));
                    found = true;
                }
            }
            assert!(found, "{file}: no method found in {line}");
        }
    }
    routes
}

#[test]
fn every_route_is_in_the_openapi_document_and_every_operation_is_served() {
    let declared = declared_routes();
    assert!(declared.len() >= 25, "the route scan found too little: {declared:?}");
    let documented: BTreeSet<(String, String)> =
        whistle_schemas::openapi::operations().into_iter().map(|(m, p)| (m.to_owned(), p.to_owned())).collect();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes the OpenAPI document lacks: {undocumented:?}");
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(unserved.is_empty(), "operations no router serves: {unserved:?}");
}
