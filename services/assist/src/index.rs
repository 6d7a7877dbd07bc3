//! The BM25 index over the catalogue, built once at start-up, and the suggestion query.
//!
//! Each item is one document made of weighted fields: its names and registry keywords, the
//! assist synonyms and typical descriptions (`deploy/data/assist/items.json`). A field's weight
//! is applied by repeating its terms, the usual cheap stand-in for BM25F.

use std::collections::HashMap;

use whistle_registry::{ItemCode, Registry};
use whistle_schemas::Names;

use crate::data::ItemTexts;
use crate::text::{Term, TermKind, Tokenizer};

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// A character bigram is evidence, but weaker than a whole word.
const BIGRAM_WEIGHT: f64 = 0.35;
/// An English word matched only after allowing one typo counts for less than an exact match.
const FUZZY_WEIGHT: f64 = 0.6;
/// Most suggestions a caller may ask for.
pub const MAX_LIMIT: usize = 10;

/// Field weights (how many times a field's terms are counted).
const W_NAME: usize = 3;
const W_KEYWORD: usize = 3;
const W_SYNONYM: usize = 2;
const W_TYPICAL: usize = 1;

#[derive(Debug, Clone)]
struct Doc {
    code: ItemCode,
    names: Names,
    len: f64,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    tf: u32,
}

/// One suggested item.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub item: ItemCode,
    pub score: f64,
    pub names: Names,
    /// The query's terms that matched this item, strongest first.
    pub matched: Vec<String>,
}

/// The suggestion engine: tokeniser plus inverted index.
#[derive(Debug)]
pub struct Index {
    tokenizer: Tokenizer,
    docs: Vec<Doc>,
    postings: HashMap<String, Vec<Posting>>,
    /// English vocabulary by length, for one-typo matching of words the index does not know.
    latin_vocab: Vec<String>,
    avg_len: f64,
}

impl Index {
    /// Builds the index from the registry's items and their assist texts.
    pub fn build(registry: &Registry, texts: &HashMap<String, ItemTexts>) -> Index {
        let mut vocabulary: Vec<String> = Vec::new();
        for item in registry.items() {
            vocabulary.extend(item.keywords_zh.iter().cloned());
            if let Some(t) = texts.get(item.code.as_str()) {
                vocabulary.extend(t.synonyms.zh.iter().cloned());
            }
        }
        let tokenizer = Tokenizer::new(vocabulary.iter().map(String::as_str));

        let mut docs = Vec::new();
        let mut postings: HashMap<String, Vec<Posting>> = HashMap::new();
        for (n, item) in registry.items().enumerate() {
            let mut counts: HashMap<String, u32> = HashMap::new();
            let mut len = 0usize;
            let mut add = |text: &str, weight: usize| {
                for term in tokenizer.terms(text) {
                    let w = if term.kind == TermKind::Bigram { 1 } else { weight };
                    *counts.entry(key(&term)).or_default() += w as u32;
                    len += w;
                }
            };
            add(&item.names.zh, W_NAME);
            add(&item.names.en, W_NAME);
            for k in item.keywords_zh.iter().chain(&item.keywords_en) {
                add(k, W_KEYWORD);
            }
            if let Some(t) = texts.get(item.code.as_str()) {
                for s in t.synonyms.zh.iter().chain(&t.synonyms.en) {
                    add(s, W_SYNONYM);
                }
                for d in t.typical.zh.iter().chain(&t.typical.en) {
                    add(d, W_TYPICAL);
                }
            }
            for (term, tf) in counts {
                postings.entry(term).or_default().push(Posting { doc: n as u32, tf });
            }
            docs.push(Doc { code: item.code.clone(), names: item.names.clone(), len: len.max(1) as f64 });
        }
        let avg_len = docs.iter().map(|d| d.len).sum::<f64>() / docs.len().max(1) as f64;
        let mut latin_vocab: Vec<String> = postings
            .keys()
            .filter(|k| k.starts_with("w:") && k[2..].bytes().all(|b| b.is_ascii_lowercase()))
            .map(|k| k[2..].to_owned())
            .collect();
        latin_vocab.sort();
        Index { tokenizer, docs, postings, latin_vocab, avg_len }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The tokeniser the index was built with (shared with callers that need the same terms).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The best `limit` items for `text`, best first; items with no matching term are left out.
    /// `text` should have passed [`crate::text::validate_query`].
    pub fn suggest(&self, text: &str, limit: usize) -> Vec<Suggestion> {
        /// Each matched query term with its share of a document's score.
        type Contributions<'q> = Vec<(f64, &'q Term)>;
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut query: HashMap<String, (Term, f64)> = HashMap::new();
        for term in self.tokenizer.terms(text) {
            let k = key(&term);
            if self.postings.contains_key(&k) {
                let weight = if term.kind == TermKind::Bigram { BIGRAM_WEIGHT } else { 1.0 };
                query.entry(k).or_insert((term, weight));
            } else if term.kind == TermKind::Word && term.text.is_ascii() && term.text.len() >= 5 {
                // One typo in a longer English word ("extinguisher" typed "extinguiser").
                if let Some(near) = self.near_latin(&term.text) {
                    let k = format!("w:{near}");
                    query.entry(k).or_insert((Term { text: near, kind: TermKind::Word }, FUZZY_WEIGHT));
                }
            }
        }

        let n = self.docs.len() as f64;
        let mut scores: HashMap<u32, (f64, Contributions)> = HashMap::new();
        for (k, (term, weight)) in &query {
            let Some(list) = self.postings.get(k) else { continue };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for p in list {
                let doc = &self.docs[p.doc as usize];
                let tf = p.tf as f64;
                let s = weight * idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * doc.len / self.avg_len));
                let entry = scores.entry(p.doc).or_default();
                entry.0 += s;
                entry.1.push((s, term));
            }
        }
        let mut ranked: Vec<(u32, f64, Contributions)> =
            scores.into_iter().map(|(doc, (score, terms))| (doc, score, terms)).collect();
        // Ties break on catalogue order so answers are stable.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(limit)
            .map(|(doc, score, terms)| {
                let d = &self.docs[doc as usize];
                Suggestion {
                    item: d.code.clone(),
                    score: (score * 1000.0).round() / 1000.0,
                    names: d.names.clone(),
                    matched: reasons(terms),
                }
            })
            .collect()
    }

    fn near_latin(&self, word: &str) -> Option<String> {
        self.latin_vocab
            .iter()
            .filter(|v| v.len().abs_diff(word.len()) <= 1)
            .find(|v| within_one_edit(v, word))
            .cloned()
    }
}

/// The matched terms a person should read: words first by contribution; a bigram only when no
/// matched word already contains it.
fn reasons(mut terms: Vec<(f64, &Term)>) -> Vec<String> {
    terms.sort_by(|a, b| b.0.total_cmp(&a.0));
    let words: Vec<&str> =
        terms.iter().filter(|(_, t)| t.kind == TermKind::Word).map(|(_, t)| t.text.as_str()).collect();
    let mut out: Vec<String> = Vec::new();
    for (_, t) in &terms {
        let shown = match t.kind {
            TermKind::Word => true,
            TermKind::Bigram => !words.iter().any(|w| w.contains(t.text.as_str())),
        };
        if shown && !out.contains(&t.text) {
            out.push(t.text.clone());
        }
    }
    out.truncate(8);
    out
}

/// The index key of a term: words and bigrams live in separate namespaces so a two-character
/// word and the same bigram are weighted apart.
fn key(term: &Term) -> String {
    match term.kind {
        TermKind::Word => format!("w:{}", term.text),
        TermKind::Bigram => format!("b:{}", term.text),
    }
}

/// Levenshtein distance ≤ 1, without allocating.
fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < short.len() && j < long.len() {
        if short[i] == long[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        if short.len() == long.len() {
            i += 1;
        }
        j += 1;
    }
    edits + (long.len() - j) + (short.len() - i) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_distance_is_detected() {
        assert!(within_one_edit("extinguisher", "extinguiser"));
        assert!(within_one_edit("hydrant", "hydrent"));
        assert!(within_one_edit("lorry", "lorrys"));
        assert!(!within_one_edit("hydrant", "hydrogen"));
        assert!(within_one_edit("same", "same"));
    }
}
