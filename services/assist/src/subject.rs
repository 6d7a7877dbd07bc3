//! Who is inspected or penalised, identified so that the same subject is recognised across cases
//! and departments: an enterprise by its unified social credit code (统一社会信用代码, checked
//! against its check character), anyone else by a normalised address.

use whistle_schemas::events::EnforcementSubject;

use crate::text::fold;

/// Longest normalised address kept; it becomes part of a Redis key.
const MAX_ADDRESS_CHARS: usize = 120;
/// Shorter addresses cannot tell two places apart.
const MIN_ADDRESS_CHARS: usize = 4;
/// The characters of a credit code, in check-digit order (GB 32100-2015: no I, O, S, V, Z).
const CREDIT_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("give the subject's credit_code or address")]
    Missing,
    #[error("credit_code must be 18 characters of 0-9 and A-Y without I, O, S, V, Z")]
    CreditCodeFormat,
    #[error("credit_code check character does not match; is it mistyped?")]
    CreditCodeCheck,
    #[error("address is too short to identify a place")]
    AddressTooShort,
    #[error("address is longer than {MAX_ADDRESS_CHARS} characters")]
    AddressTooLong,
}

/// Parses what the officer entered into a subject; a credit code, when given, is the identity.
pub fn parse(credit_code: Option<&str>, address: Option<&str>) -> Result<EnforcementSubject, SubjectError> {
    let credit_code = credit_code.map(str::trim).filter(|s| !s.is_empty());
    let address = address.map(str::trim).filter(|s| !s.is_empty());
    let normalised_address = address.map(normalise_address).transpose()?;
    match (credit_code, normalised_address) {
        (Some(code), _) => {
            let code = credit_code_of(code)?;
            Ok(EnforcementSubject {
                id: format!("ucc:{code}"),
                credit_code: Some(code),
                address: address.map(str::to_owned),
            })
        }
        (None, Some(norm)) => Ok(EnforcementSubject {
            id: format!("addr:{norm}"),
            credit_code: None,
            address: address.map(str::to_owned),
        }),
        (None, None) => Err(SubjectError::Missing),
    }
}

fn credit_code_of(raw: &str) -> Result<String, SubjectError> {
    let code: String = fold(raw).chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if code.len() != 18 || !code.chars().all(|c| CREDIT_CHARS.contains(c)) {
        return Err(SubjectError::CreditCodeFormat);
    }
    let value = |c: char| CREDIT_CHARS.find(c).unwrap_or(0) as u64;
    let mut weight = 1u64;
    let mut sum = 0u64;
    for c in code.chars().take(17) {
        sum += value(c) * weight;
        weight = weight * 3 % 31;
    }
    let check = (31 - sum % 31) % 31;
    if code.chars().nth(17).map(value) != Some(check) {
        return Err(SubjectError::CreditCodeCheck);
    }
    Ok(code)
}

/// Folds width and case, drops spaces and punctuation and the city prefix, so "重庆市 渝中区
/// 解放碑步行街 8 号" and "渝中区解放碑步行街8号" are one place.
pub fn normalise_address(raw: &str) -> Result<String, SubjectError> {
    let folded: String = fold(raw).chars().filter(|c| c.is_alphanumeric()).collect();
    let stripped = ["重庆市", "重庆"].iter().find_map(|p| folded.strip_prefix(p)).unwrap_or(&folded);
    let n = stripped.chars().count();
    if n < MIN_ADDRESS_CHARS {
        return Err(SubjectError::AddressTooShort);
    }
    if n > MAX_ADDRESS_CHARS {
        return Err(SubjectError::AddressTooLong);
    }
    Ok(stripped.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_code_is_checked_and_becomes_the_identity() {
        let s = parse(Some(" 91500103ma60xy312f "), Some("渝中区解放碑")).expect("valid");
        assert_eq!(s.id, "ucc:91500103MA60XY312F");
        assert_eq!(parse(Some("91500103MA60XY312G"), None), Err(SubjectError::CreditCodeCheck));
        assert_eq!(parse(Some("91500103"), None), Err(SubjectError::CreditCodeFormat));
    }

    #[test]
    fn addresses_that_differ_only_in_spacing_width_and_city_prefix_are_one_subject() {
        let a = parse(None, Some("重庆市 渝中区解放碑步行街８号")).expect("valid");
        let b = parse(None, Some("渝中区解放碑步行街 8号")).expect("valid");
        assert_eq!(a.id, b.id);
        assert_eq!(a.id, "addr:渝中区解放碑步行街8号");
        assert_eq!(parse(None, Some("  ")), Err(SubjectError::Missing));
        assert_eq!(parse(None, Some("8号")), Err(SubjectError::AddressTooShort));
    }
}
