//! Codes as domain types. A raw string from the wire becomes one of these only through `parse`,
//! which checks its shape; whether it *exists* is the registry's question.

use std::fmt;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} code {value:?} is malformed: {why}")]
pub struct CodeError {
    pub kind: &'static str,
    pub value: String,
    pub why: &'static str,
}

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, CodeError> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(value).map_err(|why| CodeError { kind: $kind, value: truncate(value), why })?;
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Error messages echo at most this much of a bad value, so a megabyte of garbage is not
/// reflected back.
fn truncate(value: &str) -> String {
    value.chars().take(40).collect()
}

fn digits(n: usize) -> impl Fn(&str) -> Result<(), &'static str> {
    move |v: &str| {
        if v.len() != n || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(if n == 6 { "expected 6 digits" } else { "expected 9 digits" });
        }
        Ok(())
    }
}

code_type!(
    /// A district-level division, by its 6-digit administrative code (e.g. `500103`).
    DistrictCode, "district", |v| digits(6)(v)
);
code_type!(
    /// A town or subdistrict: its district's code plus three digits (e.g. `500103001`).
    TownCode, "town", |v| digits(9)(v)
);
code_type!(
    /// An enforcement item, e.g. `CQ-FIRE-001`.
    ItemCode, "item", |v| {
        let ok = (3..=32).contains(&v.len())
            && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && !v.ends_with('-');
        if ok { Ok(()) } else { Err("expected 3-32 characters of A-Z, 0-9 and inner dashes") }
    }
);
code_type!(
    /// A district department: district code, a dash, the department type (e.g. `500103-EE`).
    DepartmentCode, "department", |v| {
        match v.split_once('-') {
            Some((district, kind))
                if digits(6)(district).is_ok()
                    && (2..=4).contains(&kind.len())
                    && kind.bytes().all(|b| b.is_ascii_uppercase()) => Ok(()),
            _ => Err("expected DISTRICT-TYPE, e.g. 500103-EE"),
        }
    }
);

impl TownCode {
    /// The district a town belongs to, by construction of the code.
    pub fn district(&self) -> DistrictCode {
        DistrictCode(self.0[..6].to_owned())
    }
}

impl DepartmentCode {
    pub fn new(district: &DistrictCode, department_type: &str) -> Self {
        Self(format!("{district}-{department_type}"))
    }

    pub fn district(&self) -> DistrictCode {
        DistrictCode(self.0[..6].to_owned())
    }

    pub fn department_type(&self) -> &str {
        &self.0[7..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_codes_parse() {
        assert!(DistrictCode::parse("500103").is_ok());
        let town = TownCode::parse("500103001").expect("valid");
        assert_eq!(town.district().as_str(), "500103");
        assert!(ItemCode::parse("CQ-FIRE-001").is_ok());
        let dept = DepartmentCode::parse("500103-EE").expect("valid");
        assert_eq!(dept.department_type(), "EE");
        assert_eq!(dept.district().as_str(), "500103");
    }

    #[test]
    fn malformed_codes_are_refused_with_the_reason() {
        for bad in ["", "50010", "5001031", "abcdef", "５００１０３"] {
            assert!(DistrictCode::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "cq-fire-001", "-CQ", "CQ-", "A", "CQ FIRE", "CQ-FIRE-001-TOO-LONG-FOR-A-CODE-X"] {
            assert!(ItemCode::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["500103EE", "500103-", "500103-ee", "5001-EE", "500103-EEEEE"] {
            assert!(DepartmentCode::parse(bad).is_err(), "{bad:?}");
        }
        let err = TownCode::parse(&"9".repeat(1000)).expect_err("too long");
        assert!(err.value.len() <= 40, "error echoes a bounded prefix");
    }
}
