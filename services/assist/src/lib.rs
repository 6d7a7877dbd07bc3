//! AI-assisted enforcement: from a town officer's words to the right enforcement item, the
//! discretion benchmark that applies, and the electronic fences that warn at the moment of action.
//!
//! - [`text`]: query validation and the mixed Chinese/English tokeniser (jieba search-mode words
//!   and character bigrams for Han text; light stemming for English).
//! - [`index`]: the BM25 index over item names, registry keywords, synonyms and typical
//!   descriptions, built once at start-up, and the suggestion query with its matched terms.
//! - [`benchmark`]: discretion benchmarks — per item and subject kind (individual / unit),
//!   circumstances (first minor offence corrected in time, ordinary, repeat within N months,
//!   serious) mapped to an allowed action and a fine range inside the statutory range.
//! - [`subject`]: who is inspected or penalised — a checked credit code or a normalised address.
//! - [`fence`]: electronic fences (multi-department or repeated inspection, fine outside the
//!   kind's tier range, penalty without the persuasion a persuade-first item needs); rules are data.
//! - [`history`]: subjects' inspection and penalty history in Redis (async; the only I/O here).
//! - [`figures`]: the reader of a case topic for the outcome figures (`read_log`); the figures
//!   themselves are `whistle_case::figures`, pure, so the ledger computes them without Kafka.
//! - [`data`]: the assist data files under `deploy/data/assist/`, validated against the registry.
//! - [`eval`]: the labelled evaluation set and the top-1/top-3 accuracy it yields.
//!
//! Everything here is pure and synchronous except [`history`] (Redis) and
//! [`figures::read_log`] (Kafka).

pub mod benchmark;
pub mod data;
pub mod eval;
pub mod fence;
pub mod figures;
pub mod history;
pub mod index;
pub mod subject;
pub mod text;

use std::path::Path;

pub use data::{AssistData, DataError};
pub use index::{Index, Suggestion};
pub use text::{MAX_QUERY_CHARS, QueryError, validate_query};
use whistle_registry::Registry;

/// Everything the API needs, built once at start-up and shared read-only.
#[derive(Debug)]
pub struct Assist {
    pub index: Index,
    pub data: AssistData,
}

impl Assist {
    /// Loads the assist data from `dir` (validated against `registry`) and builds the index.
    pub fn load(dir: &Path, registry: &Registry) -> Result<Assist, DataError> {
        let data = AssistData::load(dir, registry)?;
        let index = Index::build(registry, &data.texts);
        Ok(Assist { index, data })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;

    pub fn registry_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json")
    }

    pub fn data_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/assist")
    }

    /// Building the index takes a moment (jieba's dictionary); build it once per test binary.
    pub fn assist() -> &'static Assist {
        static ASSIST: std::sync::OnceLock<Assist> = std::sync::OnceLock::new();
        ASSIST.get_or_init(|| {
            let registry = Registry::load(&registry_path()).expect("registry loads");
            Assist::load(&data_dir(), &registry).expect("assist data loads")
        })
    }

    #[test]
    fn suggestions_put_the_obvious_item_first_and_say_why() {
        let got = assist().index.suggest("河边有废油桶泄漏", 5);
        assert_eq!(got[0].item.as_str(), "CQ-ENV-001", "{got:?}");
        assert!(!got[0].matched.is_empty());
        assert!(got.windows(2).all(|w| w[0].score >= w[1].score), "best first");
        let got = assist().index.suggest("fire exit blocked by boxes", 5);
        assert_eq!(got[0].item.as_str(), "CQ-FIRE-002", "{got:?}");
    }

    #[test]
    fn text_without_words_gets_no_suggestions_not_a_panic() {
        assert!(assist().index.suggest("🔥🔥🔥 !!! 123", 5).is_empty());
        assert!(assist().index.suggest(&"河".repeat(MAX_QUERY_CHARS), 5).len() <= 5);
    }
}
