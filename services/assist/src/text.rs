//! Query validation and the mixed Chinese/English tokeniser.
//!
//! Text is folded first (full-width forms to ASCII, ASCII to lower case), then split into runs of
//! one script. A Han run is segmented by jieba in search mode (whole words plus their dictionary
//! sub-words) and also contributes its character bigrams, so a typo in one character (`消防拴`)
//! still shares `消防` with the right item. A Latin run is split into words, stop words dropped and
//! plural/verb endings trimmed. Everything else (digits, emoji, punctuation) separates tokens.

use jieba_rs::Jieba;

/// Longest description accepted, in characters. A whistle description is a sentence or two; the
/// dashboard calls on every keystroke, so anything longer is a mistake, not a description.
pub const MAX_QUERY_CHARS: usize = 2000;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("text is empty")]
    Empty,
    #[error("text is {0} characters long; at most {MAX_QUERY_CHARS} are accepted")]
    TooLong(usize),
    #[error("text contains a control character at position {0}")]
    ControlChar(usize),
}

/// Checks a query before it is tokenised: not blank, not too long, no control characters
/// (tab and newline are fine: descriptions are pasted from notes).
pub fn validate_query(text: &str) -> Result<&str, QueryError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(QueryError::Empty);
    }
    let count = text.chars().count();
    if count > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong(count));
    }
    if let Some(pos) = text.chars().position(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err(QueryError::ControlChar(pos));
    }
    Ok(trimmed)
}

/// What kind of token a term is; bigrams are only a typo-tolerance aid and are never shown as a
/// reason on their own when a word covers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TermKind {
    Word,
    Bigram,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub text: String,
    pub kind: TermKind,
}

/// The tokeniser: jieba with the catalogue's own vocabulary added, plus the Latin rules.
pub struct Tokenizer {
    jieba: Jieba,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokenizer")
    }
}

const ZH_STOP: &[&str] = &[
    "的", "了", "在", "是", "有", "和", "就", "都", "也", "还", "很", "把", "被", "让", "给", "人", "我", "你", "他",
    "她", "它", "们", "这", "那", "个", "一", "上", "下", "里", "着", "过", "又", "说", "要", "去", "来", "好", "多",
    "太", "没", "不", "吗", "呢", "啊", "吧", "呀", "啦", "到", "从", "对", "与", "或", "及", "等", "有人", "我们",
    "他们", "一个", "一些", "这个", "那个", "什么", "已经", "一直", "没有", "好多", "一堆",
];

const EN_STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into", "onto", "is",
    "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there", "has", "have",
    "had", "do", "does", "did", "not", "no", "but", "so", "as", "up", "out", "off", "over", "our", "we", "us", "they",
    "them", "their", "he", "she", "his", "her", "i", "my", "me", "you", "your", "someone", "somebody", "people", "all",
    "every", "some", "any", "very", "just", "keeps", "keep", "still", "near", "next", "after", "before", "without",
    "who", "which", "what", "whole", "full", "lot", "lots",
];

impl Tokenizer {
    /// A tokeniser whose Chinese dictionary also knows `vocabulary` (the catalogue's own terms),
    /// so "消防通道" stays one word rather than two.
    pub fn new<'a>(vocabulary: impl IntoIterator<Item = &'a str>) -> Tokenizer {
        let mut jieba = Jieba::new();
        for word in vocabulary {
            let word = fold(word);
            if word.chars().count() >= 2 && word.chars().all(is_han) {
                jieba.add_word(&word, None, None);
            }
        }
        Tokenizer { jieba }
    }

    /// Every term of `text`, in order, with repeats (term frequency matters to BM25).
    pub fn terms(&self, text: &str) -> Vec<Term> {
        let folded = fold(text);
        let mut out = Vec::new();
        for (script, run) in runs(&folded) {
            match script {
                Script::Han => self.han(run, &mut out),
                Script::Latin => latin(run, &mut out),
            }
        }
        out
    }

    fn han(&self, run: &str, out: &mut Vec<Term>) {
        for token in self.jieba.cut_for_search(run, true) {
            let w = token.word;
            if !ZH_STOP.contains(&w) {
                out.push(Term { text: w.to_owned(), kind: TermKind::Word });
            }
        }
        let chars: Vec<char> = run.chars().collect();
        for pair in chars.windows(2) {
            let bigram: String = pair.iter().collect();
            if !ZH_STOP.contains(&bigram.as_str()) {
                out.push(Term { text: bigram, kind: TermKind::Bigram });
            }
        }
    }
}

fn latin(run: &str, out: &mut Vec<Term>) {
    for word in run.split(|c: char| !c.is_ascii_alphabetic()) {
        if word.len() < 2 || EN_STOP.contains(&word) {
            continue;
        }
        out.push(Term { text: stem(word), kind: TermKind::Word });
    }
}

/// A deliberately light stemmer: enough that "drums"/"drum" and "dumping"/"dumped"/"dump" meet,
/// predictable enough that a reviewer can tell why two words matched.
pub fn stem(word: &str) -> String {
    let w = word;
    let strip =
        |suffix: &str, min_stem: usize| -> Option<&str> { w.strip_suffix(suffix).filter(|s| s.len() >= min_stem) };
    if let Some(s) = strip("ies", 3) {
        return format!("{s}y");
    }
    if let Some(s) = strip("ing", 3) {
        return undouble(s);
    }
    if let Some(s) = strip("ed", 3) {
        return undouble(s);
    }
    if let Some(s) = strip("es", 3).filter(|s| s.ends_with("sh") || s.ends_with("ch") || s.ends_with('x')) {
        return s.to_owned();
    }
    if let Some(s) = strip("s", 3).filter(|s| !s.ends_with('s')) {
        return s.strip_suffix('e').filter(|s| s.len() >= 4).unwrap_or(s).to_owned();
    }
    // "charge" meets "charging" and "charged".
    strip("e", 4).unwrap_or(w).to_owned()
}

/// "dumped" → "dump", but "dropped" → "drop" (not "dropp").
fn undouble(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] && !matches!(b[b.len() - 1], b'l' | b's' | b'z') {
        s[..s.len() - 1].to_owned()
    } else {
        s.to_owned()
    }
}

/// Full-width ASCII forms (common in Chinese input methods) to ASCII, then ASCII lower case.
pub fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Han,
    Latin,
}

/// Maximal runs of Han characters and of ASCII letters (with inner `-`/`'`); the rest separates.
fn runs(text: &str) -> Vec<(Script, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(Script, usize)> = None;
    for (i, c) in text.char_indices() {
        let script = if is_han(c) {
            Some(Script::Han)
        } else if c.is_ascii_alphabetic() || (matches!(c, '-' | '\'') && start.map(|s| s.0) == Some(Script::Latin)) {
            Some(Script::Latin)
        } else {
            None
        };
        match (start, script) {
            (Some((s, _)), Some(t)) if s == t => {}
            (Some((s, from)), _) => {
                out.push((s, &text[from..i]));
                start = script.map(|t| (t, i));
            }
            (None, Some(t)) => start = Some((t, i)),
            (None, None) => {}
        }
    }
    if let Some((s, from)) = start {
        out.push((s, &text[from..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(tok: &Tokenizer, text: &str) -> Vec<String> {
        tok.terms(text).into_iter().filter(|t| t.kind == TermKind::Word).map(|t| t.text).collect()
    }

    fn tokenizer() -> Tokenizer {
        Tokenizer::new(["消防通道", "废机油"])
    }

    #[test]
    fn mixed_chinese_and_english_text_yields_words_of_both_scripts() {
        let tok = tokenizer();
        let w = words(&tok, "夜市的street food摊位把road占了");
        assert!(w.contains(&"夜市".to_owned()), "{w:?}");
        assert!(w.contains(&"摊位".to_owned()), "{w:?}");
        assert!(w.contains(&"street".to_owned()), "{w:?}");
        assert!(w.contains(&"food".to_owned()), "{w:?}");
        assert!(w.contains(&"road".to_owned()), "{w:?}");
        assert!(!w.iter().any(|t| t == "的" || t == "了"), "stop words are dropped: {w:?}");
    }

    #[test]
    fn catalogue_vocabulary_keeps_compound_terms_whole() {
        let tok = tokenizer();
        let w = words(&tok, "消防通道被堵了，还有人倒废机油");
        assert!(w.contains(&"消防通道".to_owned()), "{w:?}");
        assert!(w.contains(&"废机油".to_owned()), "{w:?}");
    }

    #[test]
    fn han_runs_also_give_bigrams_so_a_one_character_typo_still_matches() {
        let tok = tokenizer();
        let terms = tok.terms("消防拴坏了");
        assert!(terms.contains(&Term { text: "消防".into(), kind: TermKind::Bigram }), "{terms:?}");
    }

    #[test]
    fn english_is_lower_cased_stop_worded_and_lightly_stemmed() {
        let tok = tokenizer();
        assert_eq!(words(&tok, "Someone DUMPED the Oil Drums"), ["dump", "oil", "drum"]);
        assert_eq!(stem("charging"), "charg");
        assert_eq!(stem("charge"), "charg");
        assert_eq!(stem("smokes"), "smok");
        assert_eq!(stem("bodies"), "body");
        assert_eq!(stem("dropped"), "drop");
        assert_eq!(stem("glass"), "glass");
    }

    #[test]
    fn full_width_letters_fold_to_ascii() {
        let tok = tokenizer();
        assert_eq!(words(&tok, "ＫＴＶ"), ["ktv"]);
    }

    #[test]
    fn emoji_digits_and_punctuation_only_separate() {
        let tok = tokenizer();
        assert!(tok.terms("🔥🔥 123 !!! 😡").is_empty());
        let w = words(&tok, "😡someone dumped oil drums在河边🐟");
        assert_eq!(w.first().map(String::as_str), Some("dump"));
        assert!(w.contains(&"河边".to_owned()) || tok.terms("河边").iter().any(|t| t.text == "河边"), "{w:?}");
    }

    #[test]
    fn queries_are_validated_before_tokenising() {
        assert_eq!(validate_query("   "), Err(QueryError::Empty));
        assert_eq!(validate_query(""), Err(QueryError::Empty));
        assert_eq!(validate_query(&"河".repeat(MAX_QUERY_CHARS + 1)), Err(QueryError::TooLong(MAX_QUERY_CHARS + 1)));
        assert_eq!(validate_query("a\u{0}b"), Err(QueryError::ControlChar(1)));
        assert_eq!(validate_query(" 河边\n有油桶 "), Ok("河边\n有油桶"));
        assert_eq!(validate_query("🔥"), Ok("🔥"));
    }
}
