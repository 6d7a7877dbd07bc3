//! Account names.

use std::fmt;

/// Longest account name.
pub const MAX_USERNAME_CHARS: usize = 64;

/// An account name: 1 to 64 of `A-Z a-z 0-9 . _ @ -`, starting with a letter or digit (the
/// same rule as the table's check constraint). Nothing that needs escaping in logs, URLs or
/// Redis keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to {MAX_USERNAME_CHARS} of A-Z a-z 0-9 . _ @ -, starting with a letter or digit")]
pub struct InvalidUsername;

impl Username {
    pub fn parse(name: &str) -> Result<Username, InvalidUsername> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
        let ok = name.len() <= MAX_USERNAME_CHARS
            && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && name.chars().all(allowed);
        if ok { Ok(Username(name.to_owned())) } else { Err(InvalidUsername) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_bounded() {
        for good in ["li.wei", "dept-500103-EE", "a", "zhang_min@cq", "X9"] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_USERNAME_CHARS + 1);
        for bad in ["", ".hidden", "-x", "with space", "名字", "a/b", "a:b", long.as_str()] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad}");
        }
    }
}
