//! `sustain`: the highest rate the stack holds for `--seconds` (60 by default), open loop.
//!
//! A rate is *held* when, in one step at that rate:
//! - the load generator offered every whistle on time (offering took at most 5 % longer than
//!   planned, so a saturated client is not mistaken for a fast stack);
//! - nothing was lost: every raise was answered `202`, and every accepted whistle's dispatch
//!   reached its department's board within 20 s of the last raise;
//! - p99 was not growing: the raise → board p99 of the whistles intended in the last third of the
//!   step is at most `--p99-growth` (1.5) × that of the first third. A p99 under `--p99-floor-ms`
//!   (25 ms, the target at 500/s) counts as the floor, so that jitter of a few
//!   milliseconds at low rates is not taken for a growing queue (`--p99-floor-ms 0`: the bare
//!   rule);
//! - p99 was bounded: the step's raise → board p99 is at most `--p99-max-ms` (1,000 ms; 0: no
//!   bound). A backlog left by an earlier, faster step does not grow within a step, but a board a
//!   dozen seconds behind does not hold anything.
//!
//! The search: from `--from`, each held rate is multiplied by `--factor` (1.5) until a rate is not
//! held (or `--max` is held); then the rate between the highest held and the lowest not held
//! (geometric mean) is tried until they are within `--precision` (10 %) of each other. If the first
//! rate is not held it halves. Each step is a fresh set of boards; the stack gets `--pause-secs`
//! between steps to settle.

use std::time::Duration;

use anyhow::bail;

use crate::SustainArgs;
use crate::pipeline::{Stage, Step};
use crate::report;

/// Why a step's rate was not held, or `None` when it was.
/// The latency rules of [`verdict`]: `--p99-growth`, `--p99-floor-ms`, `--p99-max-ms`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub growth: f64,
    pub floor_ms: f64,
    /// 0: no bound.
    pub max_ms: f64,
}

impl Rule {
    pub fn of(args: &SustainArgs) -> Rule {
        Rule { growth: args.p99_growth, floor_ms: args.p99_floor_ms as f64, max_ms: args.p99_max_ms as f64 }
    }
}

pub fn verdict(step: &Step, rate: u64, seconds: u64, rule: Rule) -> Option<String> {
    if step.errors > 0 && step.shed > 0 {
        return Some(format!("{} raises not accepted ({} of them shed: 503 overloaded)", step.errors, step.shed));
    }
    if step.errors > 0 {
        return Some(format!("{} raises not accepted", step.errors));
    }
    if step.missing() > 0 {
        return Some(format!("{} accepted whistles never reached their board", step.missing()));
    }
    let planned = step.total as f64 / rate as f64;
    if step.offered_secs > planned * 1.05 + 0.5 {
        return Some(format!("the load generator took {:.1} s to offer {planned:.0} s of raises", step.offered_secs));
    }
    let p99 = |i: usize| step.to_board_thirds[i].value_at_quantile(0.99) as f64 / 1000.0;
    let (first, last) = (p99(0), p99(2));
    if last > rule.growth * first.max(rule.floor_ms) {
        return Some(format!(
            "raise -> board p99 grew from {first:.1} ms (first third) to {last:.1} ms (last third of {seconds} s)"
        ));
    }
    let p99 = step.to_board.value_at_quantile(0.99) as f64 / 1000.0;
    if rule.max_ms > 0.0 && p99 > rule.max_ms {
        return Some(format!("raise -> board p99 {p99:.1} ms is over {:.0} ms", rule.max_ms));
    }
    None
}

/// The next rate to try, or `None` when the search is over. `held` is the highest rate held so
/// far, `failed` the lowest not held.
pub fn next_rate(held: Option<u64>, failed: Option<u64>, args: &SustainArgs) -> Option<u64> {
    match (held, failed) {
        (None, None) => Some(args.from),
        (Some(h), None) if h >= args.max => None,
        (Some(h), None) => Some(((h as f64 * args.factor).ceil() as u64).clamp(h + 1, args.max)),
        (None, Some(f)) if f <= 1 => None,
        (None, Some(f)) => Some(f / 2),
        (Some(h), Some(f)) => {
            if f as f64 <= h as f64 * (1.0 + args.precision) || f <= h + 1 {
                return None;
            }
            let mid = ((h as f64 * f as f64).sqrt().round() as u64).clamp(h + 1, f - 1);
            Some(mid)
        }
    }
}

pub async fn run(args: &SustainArgs) -> anyhow::Result<()> {
    let stage = Stage::prepare(&args.base, args.ws.as_deref(), args.boards, args.ack_think_ms).await?;
    println!(
        "sustain: {} departments with a board each; steps of {} s from {}/s (x{} up, then bisecting to {:.0} %), \
         held = nothing lost, raise -> board p99 of the last third <= {} x max(first third's, {} ms) and p99 <= {} ms \
         (0: no bound)",
        stage.departments(),
        args.seconds,
        args.from,
        args.factor,
        args.precision * 100.0,
        args.p99_growth,
        args.p99_floor_ms,
        args.p99_max_ms
    );
    let (mut held, mut failed): (Option<u64>, Option<u64>) = (None, None);
    let mut best: Option<Step> = None;
    while let Some(rate) = next_rate(held, failed, args) {
        let step = stage.step(rate, rate * args.seconds).await?;
        let thirds: Vec<String> =
            step.to_board_thirds.iter().map(|h| format!("{:.1}", h.value_at_quantile(0.99) as f64 / 1000.0)).collect();
        let cpu = step.cpu_ms_per_whistle().map_or("?".to_owned(), |ms| format!("{ms:.2}"));
        let verdict = verdict(&step, rate, args.seconds, Rule::of(args));
        println!(
            "  {rate:>5}/s: {} accepted, {} errors, {} missing; raise (202) p99 {:.1} ms; raise -> board p50 {:.1} p99 {:.1} ms \
             (p99 by third {} ms); CPU {cpu} ms/whistle: {}",
            step.accepted,
            step.errors,
            step.missing(),
            step.raise.value_at_quantile(0.99) as f64 / 1000.0,
            step.to_board.value_at_quantile(0.5) as f64 / 1000.0,
            step.to_board.value_at_quantile(0.99) as f64 / 1000.0,
            thirds.join(" / "),
            verdict.as_deref().unwrap_or("held")
        );
        if verdict.is_none() {
            held = Some(rate);
            best = Some(step);
        } else {
            failed = Some(rate);
        }
        tokio::time::sleep(Duration::from_secs(args.pause_secs)).await;
    }
    let (Some(rate), Some(step)) = (held, best) else {
        bail!("no rate down to 1/s was held for {} s", args.seconds);
    };
    println!("sustained: {rate} whistles/s for {} s, nothing lost, p99 not growing and bounded", args.seconds);
    println!("{}", report::line("raise (202)", &step.raise));
    println!("{}", report::line("raise -> board", &step.to_board));
    report::print_cpu(&step);
    report::print_peak_rss();
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::report::histogram;

    fn args(line: &str) -> SustainArgs {
        match crate::Cli::try_parse_from(line.split_whitespace()).expect("parses").mode {
            Some(crate::Mode::Sustain(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    /// The defaults of `loadtest sustain`.
    const RULE: Rule = Rule { growth: 1.5, floor_ms: 25.0, max_ms: 1000.0 };

    fn step(total: u64, offered_secs: f64, accepted: u64, on_board: u64, p99_ms: [u64; 3]) -> Step {
        let mut to_board = histogram();
        let thirds = p99_ms.map(|ms| {
            let mut h = histogram();
            h.record(ms * 1000).expect("in range");
            to_board.record(ms * 1000).expect("in range");
            h
        });
        Step {
            total,
            offered_secs,
            accepted,
            errors: total - accepted,
            shed: 0,
            on_board,
            acknowledged: on_board,
            elapsed_secs: offered_secs,
            raise: histogram(),
            to_board,
            to_board_thirds: thirds,
            cpu: vec![("intake".into(), 1.0), ("loadtest".into(), 5.0)],
        }
    }

    #[test]
    fn a_rate_is_held_only_with_nothing_lost_on_time_and_p99_not_growing() {
        // 100/s for 60 s.
        assert_eq!(verdict(&step(6000, 60.2, 6000, 6000, [8, 9, 11]), 100, 60, RULE), None);
        assert_eq!(verdict(&step(6000, 60.2, 6000, 6000, [30, 40, 44]), 100, 60, RULE), None);
        let lost = verdict(&step(6000, 60.2, 6000, 5999, [8, 9, 11]), 100, 60, RULE);
        assert_eq!(lost.as_deref(), Some("1 accepted whistles never reached their board"));
        let refused = verdict(&step(6000, 60.2, 5997, 5997, [8, 9, 11]), 100, 60, RULE);
        assert_eq!(refused.as_deref(), Some("3 raises not accepted"));
        let shed = verdict(&Step { shed: 2, ..step(6000, 60.2, 5997, 5997, [8, 9, 11]) }, 100, 60, RULE);
        assert_eq!(shed.as_deref(), Some("3 raises not accepted (2 of them shed: 503 overloaded)"));
        let growing = verdict(&step(6000, 60.2, 6000, 6000, [30, 60, 46]), 100, 60, RULE).expect("grew");
        assert!(growing.contains("from 30.0 ms") && growing.contains("to 46.0 ms"), "{growing}");
        // Under the floor, jitter is not growth; with the floor at 0 it is.
        assert_eq!(verdict(&step(6000, 60.2, 6000, 6000, [4, 5, 20]), 100, 60, RULE), None);
        assert!(verdict(&step(6000, 60.2, 6000, 6000, [4, 5, 20]), 100, 60, Rule { floor_ms: 0.0, ..RULE }).is_some());
        let slow_client = verdict(&step(6000, 70.0, 6000, 6000, [8, 9, 11]), 100, 60, RULE).expect("late");
        assert!(slow_client.contains("load generator"), "{slow_client}");
        // A standing backlog does not grow within the step, but it is not held either.
        let behind = verdict(&step(6000, 60.2, 6000, 6000, [12_000, 13_000, 12_500]), 100, 60, RULE).expect("behind");
        assert!(behind.contains("over 1000 ms"), "{behind}");
        let unbounded = Rule { max_ms: 0.0, ..RULE };
        assert_eq!(verdict(&step(6000, 60.2, 6000, 6000, [12_000, 13_000, 12_500]), 100, 60, unbounded), None);
    }

    #[test]
    fn the_search_steps_up_then_bisects_to_the_precision() {
        let a = args("loadtest sustain --from 100 --max 4000");
        assert_eq!(next_rate(None, None, &a), Some(100));
        assert_eq!(next_rate(Some(100), None, &a), Some(150));
        assert_eq!(next_rate(Some(3000), None, &a), Some(4000));
        assert_eq!(next_rate(Some(4000), None, &a), None);
        assert_eq!(next_rate(Some(150), Some(225), &a), Some(184));
        assert_eq!(next_rate(Some(184), Some(225), &a), Some(203));
        assert_eq!(next_rate(Some(203), Some(225), &a), Some(214));
        assert_eq!(next_rate(Some(214), Some(225), &a), None, "within 10 %");
        assert_eq!(next_rate(None, Some(100), &a), Some(50));
        assert_eq!(next_rate(None, Some(1), &a), None);
    }

    #[test]
    fn cpu_per_whistle_leaves_the_load_generator_out() {
        let s = step(100, 1.0, 100, 100, [1, 1, 1]);
        assert_eq!(s.cpu_ms_per_whistle(), Some(10.0));
    }
}
