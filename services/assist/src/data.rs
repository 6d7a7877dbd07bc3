//! The assist data files under `deploy/data/assist/`, loaded once and validated against the
//! registry: every code they name must be a registry item; every item taken from a public source
//! (not `illustrative`) must have synonyms, and every item with a statutory penalty range a
//! discretion benchmark (see [`crate::benchmark`]). Illustrative items without synonyms are
//! suggested from their registry names and keywords alone.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use whistle_registry::{ItemCode, Registry};

use crate::benchmark::BenchmarkFile;
use crate::fence::FenceRules;

/// Why the assist data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("reading {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{file}: {message}")]
    Invalid { file: &'static str, message: String },
}

/// Words in the two languages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    #[serde(default)]
    pub zh: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

/// What `items.json` holds for one item: extra words for suggestion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemTexts {
    pub synonyms: Bilingual,
    /// Descriptions in the words a town officer would use.
    pub typical: Bilingual,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsFile {
    #[allow(dead_code)]
    note: String,
    items: HashMap<String, ItemTexts>,
}

/// All assist data, validated.
#[derive(Debug)]
pub struct AssistData {
    pub texts: HashMap<String, ItemTexts>,
    pub benchmarks: BenchmarkFile,
    pub fences: FenceRules,
}

pub const ITEMS_FILE: &str = "items.json";
pub const BENCHMARKS_FILE: &str = "benchmarks.json";
pub const FENCES_FILE: &str = "fences.json";

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, DataError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| DataError::Io { path: path.display().to_string(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| DataError::Json { path: path.display().to_string(), source })
}

/// Checks that `codes` are registry items and cover every non-illustrative one.
pub(crate) fn check_codes<'a>(
    registry: &Registry,
    file: &'static str,
    codes: impl IntoIterator<Item = &'a String>,
) -> Result<(), DataError> {
    let mut seen = std::collections::HashSet::new();
    for code in codes {
        let parsed =
            ItemCode::parse(code).map_err(|e| DataError::Invalid { file, message: format!("{code:?}: {e}") })?;
        if registry.item(&parsed).is_none() {
            return Err(DataError::Invalid { file, message: format!("{code} is not a registry item") });
        }
        seen.insert(parsed);
    }
    let missing: Vec<String> =
        registry.items().filter(|i| !i.illustrative && !seen.contains(&i.code)).map(|i| i.code.to_string()).collect();
    if !missing.is_empty() {
        return Err(DataError::Invalid {
            file,
            message: format!("every registry item from a public source needs an entry; missing {missing:?}"),
        });
    }
    Ok(())
}

impl AssistData {
    /// Loads `items.json`, `benchmarks.json` and `fences.json` from `dir`.
    pub fn load(dir: &Path, registry: &Registry) -> Result<AssistData, DataError> {
        let items: ItemsFile = read(dir, ITEMS_FILE)?;
        check_codes(registry, ITEMS_FILE, items.items.keys())?;
        let mut benchmarks: BenchmarkFile = read(dir, BENCHMARKS_FILE)?;
        benchmarks.validate(registry)?;
        let fences: FenceRules = read(dir, FENCES_FILE)?;
        let longest = benchmarks.items.values().map(|b| b.repeat_within_months).max().unwrap_or(0);
        fences.validate(longest)?;
        Ok(AssistData { texts: items.items, benchmarks, fences })
    }
}
