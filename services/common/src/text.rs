//! Characters free text must not carry, whichever service takes it.

/// Characters that change how text around them is shown without being visible themselves:
/// bidirectional embeddings, overrides, isolates and marks (a "Trojan source" can make a reason
/// or address read differently from what it says), line and paragraph separators, and
/// zero-width spaces and no-break marks. Zero-width (non-)joiners stay allowed: some scripts need
/// them.
pub fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::is_deceptive;

    #[test]
    fn invisible_direction_and_spacing_marks_are_refused_ordinary_text_is_not() {
        for c in ['\u{202E}', '\u{2067}', '\u{200F}', '\u{2028}', '\u{200B}', '\u{FEFF}'] {
            assert!(is_deceptive(c), "{:?}", c);
        }
        for c in "渝中区解放碑 Jiefangbei, No. 1 — ok\u{200D}".chars() {
            assert!(!is_deceptive(c), "{:?}", c);
        }
    }
}
