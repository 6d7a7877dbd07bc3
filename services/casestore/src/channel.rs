//! Channel names and cursors.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error(
        "unknown channel {0:?}: expected department:CODE, town:CODE, manager:city, manager:DISTRICT, supervision:city or supervision:DISTRICT"
    )]
    Unknown(String),
    #[error("malformed cursor {0:?}: expected a cursor received from this server")]
    Cursor(String),
}

/// A stream of case changes a client can subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Department(String),
    Town(String),
    /// Overdue cases: `manager:city`, or `manager:DISTRICT` for one district.
    Manager(String),
    /// Cases for the supervisors (`supervision:city` or `supervision:DISTRICT`): flagged steps
    /// awaiting review, and town enforcement cases not yet decided.
    Supervision(String),
}

impl Channel {
    /// Parses `department:CODE` or `town:CODE`. Only the shape is checked here; an unknown code
    /// simply has no cases.
    pub fn parse(value: &str) -> Result<Channel, ChannelError> {
        let bad = || ChannelError::Unknown(value.chars().take(64).collect());
        let (kind, code) = value.split_once(':').ok_or_else(bad)?;
        let plausible =
            !code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        match kind {
            "department" if plausible => Ok(Channel::Department(code.to_owned())),
            "town" if plausible => Ok(Channel::Town(code.to_owned())),
            "manager" if plausible => Ok(Channel::Manager(code.to_owned())),
            "supervision" if plausible => Ok(Channel::Supervision(code.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Department(code) => write!(f, "department:{code}"),
            Channel::Town(code) => write!(f, "town:{code}"),
            Channel::Manager(scope) => write!(f, "manager:{scope}"),
            Channel::Supervision(scope) => write!(f, "supervision:{scope}"),
        }
    }
}

/// A position in a channel's stream (a Redis stream id, `ms-seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cursor {
    pub ms: u64,
    pub seq: u64,
}

impl Cursor {
    /// Before every entry.
    pub const START: Cursor = Cursor { ms: 0, seq: 0 };
}

impl FromStr for Cursor {
    type Err = ChannelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ChannelError::Cursor(s.chars().take(64).collect());
        let (ms, seq) = s.split_once('-').ok_or_else(bad)?;
        Ok(Cursor { ms: ms.parse().map_err(|_| bad())?, seq: seq.parse().map_err(|_| bad())? })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_print_back() {
        for s in ["department:500103-EE", "town:500103001", "manager:city", "manager:500103", "supervision:city"] {
            assert_eq!(Channel::parse(s).expect("valid").to_string(), s);
        }
        for bad in ["", "department:", "dept:500103-EE", "town:../x", "town:a b", "manager", "manager:"] {
            assert!(Channel::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cursors_order_numerically_not_lexically() {
        let a: Cursor = "999-5".parse().expect("valid");
        let b: Cursor = "1000-0".parse().expect("valid");
        assert!(a < b);
        assert!("1000-1".parse::<Cursor>().expect("valid") > b);
        assert!("12".parse::<Cursor>().is_err());
        assert!("a-1".parse::<Cursor>().is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        fn config() -> ProptestConfig {
            let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
            ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
        }

        fn channel_like() -> impl Strategy<Value = String> {
            prop_oneof![any::<String>(), "(department|town|manager|dept|)[:]?[A-Za-z0-9\\-_./: \u{0}\u{4e00}]{0,40}",]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_channel_string_parses_or_is_refused_with_a_bounded_echo(value in channel_like()) {
                match Channel::parse(&value) {
                    Ok(channel) => {
                        prop_assert_eq!(channel.to_string(), value.clone(), "prints back as given");
                        let code = value.split_once(':').map(|(_, c)| c).unwrap_or_default();
                        prop_assert!(!code.is_empty() && code.len() <= 32);
                        prop_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                    }
                    Err(ChannelError::Unknown(echo)) => prop_assert!(echo.chars().count() <= 64),
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            #[test]
            fn any_cursor_string_parses_or_is_refused(value in prop_oneof![any::<String>(), "[0-9]{0,22}-?[0-9]{0,22}"]) {
                match value.parse::<Cursor>() {
                    Ok(c) => {
                        let (ms, seq) = value.split_once('-').expect("a dash");
                        prop_assert_eq!((c.ms, c.seq), (ms.parse::<u64>().expect("ms"), seq.parse::<u64>().expect("seq")));
                    }
                    Err(ChannelError::Cursor(echo)) => prop_assert!(echo.chars().count() <= 64),
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }

            #[test]
            fn cursors_print_back_and_order_as_numbers(a in any::<(u64, u64)>(), b in any::<(u64, u64)>()) {
                let (ca, cb) = (Cursor { ms: a.0, seq: a.1 }, Cursor { ms: b.0, seq: b.1 });
                prop_assert_eq!(ca.to_string().parse::<Cursor>(), Ok(ca));
                prop_assert_eq!(ca.cmp(&cb), a.cmp(&b));
            }
        }
    }
}
