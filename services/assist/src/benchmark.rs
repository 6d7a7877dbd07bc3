//! Discretion benchmarks (行政处罚裁量基准): for each item, circumstances mapped to an allowed
//! action and a fine range, kept as data in `deploy/data/assist/benchmarks.json`.
//!
//! Items share named *scales* (an ordered list of tiers); a tier applies when all its conditions
//! hold, and the first that applies wins, so the file reads like the printed benchmark tables.
//! Whether the subject is a repeat offender comes from its history (see [`crate::history`]),
//! counted over the scale's `repeat_within_months`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use whistle_registry::{ItemCode, Registry};
use whistle_schemas::Names;

use crate::data::{BENCHMARKS_FILE, DataError, check_codes};

/// What the officer may do in a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Education and an order to correct; no penalty (首违不罚).
    NoPenalty,
    /// A warning, optionally with a small fine within the range.
    Warning,
    Fine,
    /// A fine plus suspension of the activity.
    FineAndSuspend,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoPenalty => "no_penalty",
            Action::Warning => "warning",
            Action::Fine => "fine",
            Action::FineAndSuspend => "fine_and_suspend",
        }
    }
}

/// An inclusive fine range in whole yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineRange {
    pub min: u64,
    pub max: u64,
}

impl FineRange {
    pub fn contains(&self, yuan: u64) -> bool {
        (self.min..=self.max).contains(&yuan)
    }
}

/// Conditions of a tier; an absent condition does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub serious_consequences: Option<bool>,
    pub repeat: Option<bool>,
    pub corrected_in_time: Option<bool>,
}

impl When {
    fn holds(&self, facts: &Facts) -> bool {
        let ok = |want: Option<bool>, have: bool| want.is_none_or(|w| w == have);
        ok(self.serious_consequences, facts.serious_consequences)
            && ok(self.repeat, facts.prior_offences > 0)
            && ok(self.corrected_in_time, facts.corrected_in_time)
    }

    fn is_empty(&self) -> bool {
        *self == When::default()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub tier: String,
    pub label: Names,
    pub when: When,
    pub action: Action,
    pub fine_yuan: FineRange,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// A prior penalty for the same item within this many months makes a repeat offence.
    pub repeat_within_months: u32,
    pub tiers: Vec<Tier>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBenchmark {
    pub scale: String,
    /// The item is to be handled by persuasion and education first (劝导在先); a penalty with no
    /// recorded persuasion trips a fence.
    pub persuade_first: bool,
}

/// `benchmarks.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkFile {
    #[allow(dead_code)]
    note: String,
    pub scales: HashMap<String, Scale>,
    pub items: HashMap<String, ItemBenchmark>,
}

/// The facts of a case that decide the tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub corrected_in_time: bool,
    pub serious_consequences: bool,
    /// Penalties for the same item against the same subject within the scale's repeat window.
    pub prior_offences: u32,
}

/// The tier that applies, with what it allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    pub item: ItemCode,
    pub tier: &'a Tier,
    pub repeat_within_months: u32,
    pub persuade_first: bool,
}

impl BenchmarkFile {
    pub(crate) fn validate(&self, registry: &Registry) -> Result<(), DataError> {
        let invalid = |message: String| DataError::Invalid { file: BENCHMARKS_FILE, message };
        check_codes(registry, BENCHMARKS_FILE, self.items.keys())?;
        for (name, scale) in &self.scales {
            let Some(last) = scale.tiers.last() else {
                return Err(invalid(format!("scale {name} has no tiers")));
            };
            if !last.when.is_empty() {
                return Err(invalid(format!(
                    "scale {name}: the last tier ({}) must have no conditions, so every case matches a tier",
                    last.tier
                )));
            }
            if scale.repeat_within_months == 0 {
                return Err(invalid(format!("scale {name}: repeat_within_months must be at least 1")));
            }
            for t in &scale.tiers {
                if t.fine_yuan.min > t.fine_yuan.max {
                    return Err(invalid(format!("scale {name}, tier {}: fine min exceeds max", t.tier)));
                }
                if t.action == Action::NoPenalty && t.fine_yuan.max != 0 {
                    return Err(invalid(format!("scale {name}, tier {}: no_penalty allows no fine", t.tier)));
                }
            }
        }
        for (code, item) in &self.items {
            if !self.scales.contains_key(&item.scale) {
                return Err(invalid(format!("{code} names unknown scale {:?}", item.scale)));
            }
        }
        Ok(())
    }

    /// The item's benchmark entry and scale.
    pub fn of(&self, item: &ItemCode) -> Option<(&ItemBenchmark, &Scale)> {
        let entry = self.items.get(item.as_str())?;
        Some((entry, self.scales.get(&entry.scale)?))
    }

    /// The tier that applies to `facts` for `item`; `None` only for an item the file does not know.
    pub fn matching(&self, item: &ItemCode, facts: &Facts) -> Option<Matched<'_>> {
        let (entry, scale) = self.of(item)?;
        let tier = scale.tiers.iter().find(|t| t.when.holds(facts))?;
        Some(Matched {
            item: item.clone(),
            tier,
            repeat_within_months: scale.repeat_within_months,
            persuade_first: entry.persuade_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::assist;

    fn tier_for(item: &str, facts: Facts) -> (String, Action, FineRange) {
        let file = &assist().data.benchmarks;
        let m = file.matching(&ItemCode::parse(item).expect("code"), &facts).expect("a tier");
        (m.tier.tier.clone(), m.tier.action, m.tier.fine_yuan)
    }

    const MINOR: &str = "CQ-CITY-001";
    const HEAVY: &str = "CQ-ENV-001";

    #[test]
    fn a_first_offence_not_corrected_gets_the_first_offence_tier() {
        let (tier, action, range) = tier_for(MINOR, Facts::default());
        assert_eq!((tier.as_str(), action), ("first_offence", Action::Warning));
        assert_eq!(range, FineRange { min: 0, max: 50 });
        let (_, action, range) = tier_for(HEAVY, Facts::default());
        assert_eq!((action, range), (Action::Fine, FineRange { min: 10000, max: 20000 }));
    }

    #[test]
    fn a_first_offence_corrected_in_time_is_not_penalised_for_a_minor_item() {
        let facts = Facts { corrected_in_time: true, ..Facts::default() };
        let (tier, action, range) = tier_for(MINOR, facts);
        assert_eq!((tier.as_str(), action, range.max), ("first_offence_corrected", Action::NoPenalty, 0));
        // A heavy item still carries a fine when corrected.
        assert_eq!(tier_for(HEAVY, facts).2, FineRange { min: 5000, max: 10000 });
    }

    #[test]
    fn a_prior_penalty_within_the_window_makes_a_repeat_offence_even_if_corrected() {
        let facts = Facts { corrected_in_time: true, prior_offences: 1, ..Facts::default() };
        let (tier, action, range) = tier_for(MINOR, facts);
        assert_eq!((tier.as_str(), action), ("repeat_offence", Action::Fine));
        assert_eq!(range, FineRange { min: 50, max: 200 });
        let file = &assist().data.benchmarks;
        let m = file.matching(&ItemCode::parse(HEAVY).expect("code"), &facts).expect("tier");
        assert_eq!(m.repeat_within_months, 24, "heavy items look back two years");
    }

    #[test]
    fn serious_consequences_outrank_every_other_circumstance() {
        let facts = Facts { serious_consequences: true, corrected_in_time: true, prior_offences: 3 };
        let (tier, action, range) = tier_for(HEAVY, facts);
        assert_eq!((tier.as_str(), action), ("serious_consequences", Action::FineAndSuspend));
        assert!(range.contains(50000) && !range.contains(49999));
    }

    #[test]
    fn every_registry_item_has_a_benchmark_and_persuade_first_is_data() {
        let file = &assist().data.benchmarks;
        assert!(file.items.values().all(|i| file.scales.contains_key(&i.scale)));
        let m = file.matching(&ItemCode::parse("CQ-CITY-003").expect("code"), &Facts::default()).expect("tier");
        assert!(m.persuade_first);
        let m = file.matching(&ItemCode::parse(HEAVY).expect("code"), &Facts::default()).expect("tier");
        assert!(!m.persuade_first);
    }

    #[test]
    fn a_scale_without_a_catch_all_last_tier_is_refused() {
        let mut file = assist().data.benchmarks.clone();
        let scale = file.scales.get_mut("minor").expect("minor scale");
        scale.tiers.pop();
        let registry = Registry::load(&crate::tests::registry_path()).expect("registry");
        let err = file.validate(&registry).expect_err("refused");
        assert!(err.to_string().contains("must have no conditions"), "{err}");
    }
}
