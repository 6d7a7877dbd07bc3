//! Discretion benchmarks (行政处罚裁量基准): for each item that carries a penalty, circumstances
//! mapped per subject kind (individual / unit) to an allowed action and a fine range, kept as data
//! in `deploy/data/assist/benchmarks.json` (generated with the registry's statutory ranges by
//! `deploy/data/gen_registry.py`).
//!
//! A tier applies when all its conditions hold, and the first that applies wins, so the file
//! reads like the printed benchmark tables. Every tier's range for a kind lies inside that kind's
//! statutory range (`items[].statutory` in the registry): the loader refuses a file where one
//! does not, naming item, kind and tier. Whether the subject is a repeat offender comes from its
//! history (see [`crate::history`]), counted over the item's `repeat_within_months`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use whistle_registry::{ItemCode, Registry};
use whistle_schemas::Names;
use whistle_schemas::registry::{Statutory, StatutoryRange, SubjectKind};

use crate::data::{BENCHMARKS_FILE, DataError};

/// What the officer may do in a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Education and an order to correct; no penalty (首违不罚, 《行政处罚法》第三十三条).
    NoPenalty,
    /// A warning on its own (amount 0), or a fine within the range.
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

/// What a tier allows one kind of subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindTier {
    pub action: Action,
    pub fine_yuan: FineRange,
}

impl KindTier {
    /// Whether a decision of `amount_yuan` (0: no fine) stays inside the tier: no fine only where
    /// the tier is no penalty or a warning, a fine only inside its range.
    pub fn allows(&self, amount_yuan: u64) -> bool {
        match self.action {
            Action::NoPenalty => amount_yuan == 0,
            Action::Warning => amount_yuan == 0 || self.fine_yuan.contains(amount_yuan),
            Action::Fine | Action::FineAndSuspend => amount_yuan > 0 && self.fine_yuan.contains(amount_yuan),
        }
    }

    /// Why this tier is not lawful under `law`, if it is not.
    fn unlawful(&self, law: &StatutoryRange) -> Option<String> {
        let FineRange { min, max } = self.fine_yuan;
        let range = || format!("{min}-{max} yuan");
        let statutory = || {
            let warning = if law.warning { "a warning alone or " } else { "" };
            format!("the statutory range ({warning}fines of {}-{} yuan)", law.min_yuan.max(1), law.max_yuan)
        };
        if min > max {
            return Some(format!("fine min {min} exceeds max {max}"));
        }
        match self.action {
            Action::NoPenalty if max != 0 => Some(format!("no_penalty allows no fine, found {}", range())),
            Action::NoPenalty => None,
            Action::Warning if !law.warning => {
                Some(format!("a warning on its own is not lawful here ({})", statutory()))
            }
            // A warning alone, with no fine.
            Action::Warning if max == 0 => None,
            _ if min == 0 => {
                Some(format!("{} starts at 0; a fine is at least 1 yuan (use a warning or no_penalty tier)", range()))
            }
            _ if !law.allows_fine(min) || !law.allows_fine(max) => {
                Some(format!("{} lies outside {}", range(), statutory()))
            }
            _ => None,
        }
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

/// One row of an item's benchmark table: its conditions and what it allows each kind.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub tier: String,
    pub label: Names,
    pub when: When,
    #[serde(default)]
    pub individual: Option<KindTier>,
    #[serde(default)]
    pub unit: Option<KindTier>,
}

impl Tier {
    pub fn for_kind(&self, kind: SubjectKind) -> Option<&KindTier> {
        match kind {
            SubjectKind::Individual => self.individual.as_ref(),
            SubjectKind::Unit => self.unit.as_ref(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBenchmark {
    /// The item is to be handled by persuasion and education first (劝导在先); a penalty with no
    /// recorded persuasion trips a fence. The registry item carries the same flag (checked).
    pub persuade_first: bool,
    /// A prior penalty for the same item within this many months makes a repeat offence.
    pub repeat_within_months: u32,
    /// Copied from the registry's `statutory.illustrative`, for readers of the file.
    #[serde(default)]
    pub statutory_illustrative: bool,
    pub tiers: Vec<Tier>,
}

/// `benchmarks.json`, with the statutory ranges of its items taken from the registry at load.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkFile {
    #[allow(dead_code)]
    note: String,
    pub items: BTreeMap<String, ItemBenchmark>,
    /// Filled by [`BenchmarkFile::validate`] from the registry: what the law allows per item.
    #[serde(skip)]
    statutory: BTreeMap<String, Statutory>,
}

/// The facts of a case that decide the tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub corrected_in_time: bool,
    pub serious_consequences: bool,
    /// Penalties for the same item against the same subject within the repeat window.
    pub prior_offences: u32,
}

/// The tier that applies to one kind of subject, with what it allows and what the law allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    pub item: ItemCode,
    pub kind: SubjectKind,
    pub tier: &'a Tier,
    /// The tier's action and fine range for `kind`.
    pub range: KindTier,
    /// The statutory range for `kind`: a decision outside it is unlawful whatever the tier says.
    pub statutory: StatutoryRange,
    /// The statutory range is not the article's own words (see the registry's `statutory.note`).
    pub statutory_illustrative: bool,
    pub repeat_within_months: u32,
    pub persuade_first: bool,
}

/// Why no tier could be matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The item carries no fine or warning (or is not a registry item): no benchmark.
    #[error("{0} has no discretion benchmark: the law names no fine or warning for it")]
    NoBenchmark(String),
    /// The law gives the item no penalty for this kind of subject.
    #[error("{item} is punishable for {allowed} only, not for a subject of kind {kind}")]
    KindNotPunishable { item: String, kind: &'static str, allowed: String },
}

impl BenchmarkFile {
    /// Checks the file against the registry: every item with a statutory range has a benchmark
    /// and no other item has one; persuade-first agrees with the registry; every tier's range for
    /// each kind lies inside that kind's statutory range, and a tier covers exactly the kinds the
    /// law punishes.
    pub(crate) fn validate(&mut self, registry: &Registry) -> Result<(), DataError> {
        let invalid = |message: String| DataError::Invalid { file: BENCHMARKS_FILE, message };
        let mut statutory = BTreeMap::new();
        for (code, bench) in &self.items {
            let parsed = ItemCode::parse(code).map_err(|e| invalid(format!("{code:?}: {e}")))?;
            let Some(item) = registry.item(&parsed) else {
                return Err(invalid(format!("{code} is not a registry item")));
            };
            let Some(law) = item.statutory.clone() else {
                return Err(invalid(format!(
                    "{code} has no statutory range in the registry, so it can have no benchmark"
                )));
            };
            if bench.persuade_first != item.persuade_first {
                return Err(invalid(format!(
                    "{code}: persuade_first is {} here but {} in the registry",
                    bench.persuade_first, item.persuade_first
                )));
            }
            if bench.repeat_within_months == 0 {
                return Err(invalid(format!("{code}: repeat_within_months must be at least 1")));
            }
            let Some(last) = bench.tiers.last() else {
                return Err(invalid(format!("{code} has no tiers")));
            };
            if !last.when.is_empty() {
                return Err(invalid(format!(
                    "{code}: the last tier ({}) must have no conditions, so every case matches a tier",
                    last.tier
                )));
            }
            for kind in [SubjectKind::Individual, SubjectKind::Unit] {
                let law_kind = law.for_kind(kind);
                for t in &bench.tiers {
                    match (law_kind, t.for_kind(kind)) {
                        (None, None) => {}
                        (Some(_), None) => {
                            return Err(invalid(format!(
                                "{code}, {}, tier {}: the law punishes this kind but the tier gives it no range",
                                kind.as_str(),
                                t.tier
                            )));
                        }
                        (None, Some(_)) => {
                            return Err(invalid(format!(
                                "{code}, {}, tier {}: the registry has no statutory range for this kind",
                                kind.as_str(),
                                t.tier
                            )));
                        }
                        (Some(l), Some(k)) => {
                            if l.min_yuan > l.max_yuan {
                                return Err(invalid(format!("{code}, {}: statutory min exceeds max", kind.as_str())));
                            }
                            if let Some(why) = k.unlawful(l) {
                                return Err(invalid(format!(
                                    "{code}, {}, tier {}: outside the statutory range: {why}",
                                    kind.as_str(),
                                    t.tier
                                )));
                            }
                        }
                    }
                }
            }
            statutory.insert(code.clone(), law);
        }
        let missing: Vec<String> = registry
            .items()
            .filter(|i| i.statutory.is_some() && !self.items.contains_key(i.code.as_str()))
            .map(|i| i.code.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!("every item with a statutory range needs a benchmark; missing {missing:?}")));
        }
        self.statutory = statutory;
        Ok(())
    }

    /// The item's benchmark entry.
    pub fn of(&self, item: &ItemCode) -> Option<&ItemBenchmark> {
        self.items.get(item.as_str())
    }

    /// The item's statutory ranges, as loaded with the file.
    pub fn statutory(&self, item: &ItemCode) -> Option<&Statutory> {
        self.statutory.get(item.as_str())
    }

    /// The one kind of subject the law punishes for `item`, if it punishes only one.
    pub fn sole_kind(&self, item: &ItemCode) -> Option<SubjectKind> {
        let law = self.statutory(item)?;
        match (&law.individual, &law.unit) {
            (Some(_), None) => Some(SubjectKind::Individual),
            (None, Some(_)) => Some(SubjectKind::Unit),
            _ => None,
        }
    }

    /// The kind of subject a benchmark is matched for: `stated` when given, else a unit when the
    /// subject is identified by a credit code, else the item's only kind when the law punishes
    /// one kind only, else an individual.
    pub fn kind_of(&self, item: &ItemCode, stated: Option<SubjectKind>, credit_code: bool) -> SubjectKind {
        stated.or(credit_code.then_some(SubjectKind::Unit)).or(self.sole_kind(item)).unwrap_or(SubjectKind::Individual)
    }

    /// The tier that applies to `facts` for a subject of `kind` under `item`.
    pub fn matching(&self, item: &ItemCode, kind: SubjectKind, facts: &Facts) -> Result<Matched<'_>, MatchError> {
        let no_benchmark = || MatchError::NoBenchmark(item.to_string());
        let entry = self.of(item).ok_or_else(no_benchmark)?;
        let law = self.statutory(item).ok_or_else(no_benchmark)?;
        let Some(statutory) = law.for_kind(kind).copied() else {
            let allowed = [SubjectKind::Individual, SubjectKind::Unit]
                .into_iter()
                .filter(|k| law.for_kind(*k).is_some())
                .map(SubjectKind::as_str)
                .collect::<Vec<_>>()
                .join(" and ");
            return Err(MatchError::KindNotPunishable { item: item.to_string(), kind: kind.as_str(), allowed });
        };
        // Validation made every tier cover every kind the law punishes, and the last match all.
        let (tier, range) = entry
            .tiers
            .iter()
            .filter(|t| t.when.holds(facts))
            .find_map(|t| t.for_kind(kind).map(|r| (t, *r)))
            .ok_or_else(no_benchmark)?;
        Ok(Matched {
            item: item.clone(),
            kind,
            tier,
            range,
            statutory,
            statutory_illustrative: law.illustrative,
            repeat_within_months: entry.repeat_within_months,
            persuade_first: entry.persuade_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::assist;

    const IND: SubjectKind = SubjectKind::Individual;
    const UNIT: SubjectKind = SubjectKind::Unit;

    fn code(item: &str) -> ItemCode {
        ItemCode::parse(item).expect("code")
    }

    fn tier_for(item: &str, kind: SubjectKind, facts: Facts) -> (String, Action, FineRange) {
        let m = assist().data.benchmarks.matching(&code(item), kind, &facts).expect("a tier");
        (m.tier.tier.clone(), m.range.action, m.range.fine_yuan)
    }

    fn registry() -> Registry {
        Registry::load(&crate::tests::registry_path()).expect("registry")
    }

    /// Fire Protection Law art. 60, fire exits (persuade-first).
    const FIRE: &str = "CQ-FIRE-002";
    /// Yangtze River Protection Law art. 86, fishing (persuade-first, individuals).
    const FISH: &str = "CQ-AGRI-001";
    /// Solid Waste Law art. 112, units only.
    const HEAVY: &str = "CQ-ENV-001";

    #[test]
    fn every_tier_of_every_item_and_kind_lies_inside_the_statutory_range() {
        let file = &assist().data.benchmarks;
        let registry = registry();
        let mut checked = 0;
        for (item, bench) in &file.items {
            let law = registry.item(&code(item)).and_then(|i| i.statutory.clone()).expect("statutory range");
            for kind in [IND, UNIT] {
                let Some(law) = law.for_kind(kind) else {
                    assert!(bench.tiers.iter().all(|t| t.for_kind(kind).is_none()), "{item} {kind:?}");
                    continue;
                };
                for t in &bench.tiers {
                    let k = t.for_kind(kind).unwrap_or_else(|| panic!("{item} {kind:?} {} has a range", t.tier));
                    let FineRange { min, max } = k.fine_yuan;
                    assert!(min <= max, "{item} {kind:?} {}", t.tier);
                    match k.action {
                        Action::NoPenalty => assert_eq!(max, 0, "{item} {kind:?} {}", t.tier),
                        Action::Warning if max == 0 => assert!(law.warning, "{item} {kind:?} {}", t.tier),
                        action => {
                            assert!(action != Action::Warning || law.warning, "{item} {kind:?} {}", t.tier);
                            assert!(
                                min >= law.min_yuan.max(1) && max <= law.max_yuan,
                                "{item} {kind:?} {}: {min}-{max} outside {law:?}",
                                t.tier
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        // Every item the registry gives a range has a benchmark, and none without one does.
        let with_law = registry.items().filter(|i| i.statutory.is_some()).count();
        assert_eq!(file.items.len(), with_law);
        assert!(checked > 4 * with_law, "{checked} tiers checked");
    }

    #[test]
    fn the_fire_law_gives_an_individual_a_warning_or_at_most_500_and_a_unit_5000_to_50000() {
        let law = assist().data.benchmarks.statutory(&code(FIRE)).expect("law").clone();
        assert_eq!(law.individual, Some(StatutoryRange { warning: true, min_yuan: 0, max_yuan: 500 }));
        assert_eq!(law.unit, Some(StatutoryRange { warning: false, min_yuan: 5000, max_yuan: 50000 }));
        assert!(!law.illustrative);
        let (tier, action, range) = tier_for(FIRE, IND, Facts::default());
        assert_eq!((tier.as_str(), action), ("ordinary", Action::Warning));
        assert!(range.max <= 500, "{range:?}");
        let (_, action, range) = tier_for(FIRE, UNIT, Facts::default());
        assert_eq!(action, Action::Fine);
        assert!(range.min >= 5000 && range.max <= 50000, "{range:?}");
    }

    #[test]
    fn a_first_minor_offence_corrected_in_time_is_not_punished_for_either_kind() {
        let facts = Facts { corrected_in_time: true, ..Facts::default() };
        for (item, kind) in [(FIRE, IND), (FIRE, UNIT), (HEAVY, UNIT), (FISH, IND)] {
            let (tier, action, range) = tier_for(item, kind, facts);
            assert_eq!((tier.as_str(), action, range.max), ("first_offence_corrected", Action::NoPenalty, 0), "{item}");
        }
    }

    #[test]
    fn fishing_in_the_ban_starts_at_the_yangtze_laws_floor_and_serious_cases_reach_500000() {
        let (_, action, range) = tier_for(FISH, IND, Facts::default());
        assert_eq!((action, range), (Action::Fine, FineRange { min: 10000, max: 20000 }));
        let facts = Facts { serious_consequences: true, ..Facts::default() };
        assert_eq!(tier_for(FISH, IND, facts).2, FineRange { min: 50000, max: 500000 });
    }

    #[test]
    fn a_prior_penalty_within_the_window_makes_a_repeat_offence_even_if_corrected() {
        let facts = Facts { corrected_in_time: true, prior_offences: 1, ..Facts::default() };
        let (tier, action, range) = tier_for(FIRE, UNIT, facts);
        assert_eq!((tier.as_str(), action), ("repeat_offence", Action::Fine));
        assert!(range.min > tier_for(FIRE, UNIT, Facts::default()).2.min);
        let m = assist().data.benchmarks.matching(&code(HEAVY), UNIT, &facts).expect("tier");
        assert_eq!(m.repeat_within_months, 24, "items fined 100,000 yuan or more look back two years");
    }

    #[test]
    fn serious_consequences_outrank_every_other_circumstance() {
        let facts = Facts { serious_consequences: true, corrected_in_time: true, prior_offences: 3 };
        let (tier, action, range) = tier_for(HEAVY, UNIT, facts);
        assert_eq!((tier.as_str(), action), ("serious_consequences", Action::Fine));
        assert_eq!(range.max, 1_000_000);
    }

    #[test]
    fn a_kind_the_law_does_not_punish_gets_no_tier() {
        let file = &assist().data.benchmarks;
        let err = file.matching(&code(HEAVY), IND, &Facts::default()).expect_err("units only");
        assert_eq!(err.to_string(), "CQ-ENV-001 is punishable for unit only, not for a subject of kind individual");
        assert_eq!(file.sole_kind(&code(HEAVY)), Some(UNIT));
        assert_eq!(file.sole_kind(&code(FIRE)), None);
        // An item whose article names no fine has no benchmark.
        let err = file.matching(&code("CQ-EDU-001"), IND, &Facts::default()).expect_err("no fine");
        assert!(matches!(err, MatchError::NoBenchmark(_)), "{err}");
    }

    #[test]
    fn the_kind_is_as_stated_else_a_unit_by_its_credit_code_else_the_items_only_kind_else_an_individual() {
        let file = &assist().data.benchmarks;
        assert_eq!(file.kind_of(&code(FIRE), Some(IND), true), IND, "a sole trader has a credit code too");
        assert_eq!(file.kind_of(&code(FIRE), None, true), UNIT);
        assert_eq!(file.kind_of(&code(HEAVY), None, false), UNIT);
        assert_eq!(file.kind_of(&code(FISH), None, false), IND);
        assert_eq!(file.kind_of(&code(FIRE), None, false), IND);
    }

    #[test]
    fn persuade_first_is_the_three_items_the_reform_names() {
        let file = &assist().data.benchmarks;
        let mut named: Vec<&str> =
            file.items.iter().filter(|(_, b)| b.persuade_first).map(|(c, _)| c.as_str()).collect();
        named.sort_unstable();
        assert_eq!(named, ["CQ-AGRI-001", "CQ-CITY-001", "CQ-FIRE-002"]);
        let registry = registry();
        assert!(registry.items().filter(|i| i.persuade_first).all(|i| named.contains(&i.code.as_str())));
        assert!(file.matching(&code(FIRE), UNIT, &Facts::default()).expect("tier").persuade_first);
        assert!(!file.matching(&code(HEAVY), UNIT, &Facts::default()).expect("tier").persuade_first);
    }

    #[test]
    fn a_file_with_a_tier_outside_the_statutory_range_is_refused_naming_item_kind_and_tier() {
        let mut file = assist().data.benchmarks.clone();
        let bench = file.items.get_mut(FIRE).expect("fire exits");
        let ordinary = bench.tiers.iter_mut().find(|t| t.tier == "ordinary").expect("ordinary");
        // The seed's old range: 500-2,000 yuan for an individual, above the law's 500.
        ordinary.individual = Some(KindTier { action: Action::Fine, fine_yuan: FineRange { min: 500, max: 2000 } });
        let err = file.validate(&registry()).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "benchmarks.json: CQ-FIRE-002, individual, tier ordinary: outside the statutory range: \
             500-2000 yuan lies outside the statutory range (a warning alone or fines of 1-500 yuan)"
        );
    }

    #[test]
    fn a_warning_tier_where_the_law_allows_no_warning_alone_is_refused() {
        let mut file = assist().data.benchmarks.clone();
        let bench = file.items.get_mut(FIRE).expect("fire exits");
        bench.tiers.last_mut().expect("tier").unit =
            Some(KindTier { action: Action::Warning, fine_yuan: FineRange { min: 0, max: 0 } });
        let err = file.validate(&registry()).expect_err("refused");
        assert!(err.to_string().contains("CQ-FIRE-002, unit, tier ordinary"), "{err}");
        assert!(err.to_string().contains("a warning on its own is not lawful"), "{err}");
    }

    #[test]
    fn a_tier_missing_a_kind_the_law_punishes_and_a_persuade_first_mismatch_are_refused() {
        let mut file = assist().data.benchmarks.clone();
        file.items.get_mut(FIRE).expect("fire").tiers[0].unit = None;
        let err = file.validate(&registry()).expect_err("refused");
        assert!(err.to_string().contains("CQ-FIRE-002, unit, tier serious_consequences"), "{err}");
        let mut file = assist().data.benchmarks.clone();
        file.items.get_mut(HEAVY).expect("heavy").persuade_first = true;
        let err = file.validate(&registry()).expect_err("refused");
        assert!(err.to_string().contains("persuade_first is true here but false in the registry"), "{err}");
    }

    #[test]
    fn a_benchmark_without_a_catch_all_last_tier_is_refused() {
        let mut file = assist().data.benchmarks.clone();
        file.items.get_mut(FIRE).expect("fire").tiers.pop();
        let err = file.validate(&registry()).expect_err("refused");
        assert!(err.to_string().contains("must have no conditions"), "{err}");
    }

    #[test]
    fn a_tier_allows_no_fine_only_for_a_warning_or_no_penalty() {
        let warning = KindTier { action: Action::Warning, fine_yuan: FineRange { min: 1, max: 150 } };
        assert!(warning.allows(0) && warning.allows(150) && !warning.allows(151));
        let fine = KindTier { action: Action::Fine, fine_yuan: FineRange { min: 5000, max: 18000 } };
        assert!(!fine.allows(0) && fine.allows(5000) && !fine.allows(4999));
        let none = KindTier { action: Action::NoPenalty, fine_yuan: FineRange { min: 0, max: 0 } };
        assert!(none.allows(0) && !none.allows(1));
    }
}
