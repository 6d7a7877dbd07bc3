//! Whistle's load generator. Every run stops by itself.
//!
//! - `pipeline` (default): raises whistles over HTTP at a fixed open-loop rate from many towns,
//!   holds one live board per responsible department, acknowledges like duty officers, and
//!   measures raise latency and raise → board latency from the *intended* send time (no
//!   coordinated omission). Then, in the same run, the baselines: a bare rdkafka produce →
//!   consume round trip on the same broker and message size, and a bare WebSocket broadcast, so
//!   the results are also given as ratios. Prints the peak RSS of each service.
//! - `sustain`: the highest rate held for `--seconds` (60) open loop with nothing lost and the
//!   raise → board p99 not growing (last third ≤ 1.5 × first third) and at most 1 s, stepping the rate up and
//!   then bisecting; each step is a `pipeline` run (src/sustain.rs says exactly what "held" is).
//! - `idle`: opens N idle board connections to the gateway and reports its memory per connection;
//!   `--department-cases 500` makes them a busy department's boards, each sent a 500-case snapshot.
//! - `figures`: no stack needed. One seeded stream of problems run through the pre-reform path and
//!   through Whistle as case events, and the outcome figures of both side by side
//!   (docs/figures.md); `--brokers` also writes both logs to Kafka and reads them back.
//!
//! `cargo run --release -p loadtest --bin loadtest -- pipeline --rate 200 --seconds 20`
//! `cargo run --release -p loadtest --bin loadtest -- sustain [--seconds 60 --from 100]`
//! `cargo run --release -p loadtest --bin loadtest -- idle --connections 19000 --department-cases 500 [--ws ws://127.0.0.1:8082/ws]`
//! `cargo run --release -p loadtest --bin loadtest -- figures --seed 1 --problems 2000 [--brokers 127.0.0.1:19092]`
//! against the stack of `cargo xtask up` (`--base` to point elsewhere). `--help` lists every flag
//! with its default; without a mode it runs `pipeline`.

mod accounts;
mod baseline;
mod figures;
mod idle;
mod pipeline;
mod report;
mod sustain;

use clap::{Args, Parser, Subcommand};

/// Whistle's load generator; every run stops by itself. Without a mode it runs `pipeline`.
#[derive(Debug, Parser)]
#[command(name = "loadtest", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The flags of `pipeline`, the default mode.
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Open-loop raises, one live board per department, acknowledgements; raise and raise → board
    /// latency, then the bare Kafka and WebSocket baselines and the peak RSS of each service.
    Pipeline(PipelineArgs),
    /// The highest rate held for `--seconds` with nothing lost and raise → board p99 not growing
    /// (the last third's at most `--p99-growth` × the first third's) and at most `--p99-max-ms`:
    /// steps up, then bisects.
    Sustain(SustainArgs),
    /// Idle board connections to the gateway; its memory per connection.
    Idle(IdleArgs),
    /// The outcome figures of one seeded stream of problems, pre-reform and with Whistle (a
    /// model, not a measurement); no stack needed.
    Figures(FiguresArgs),
}

/// Flags of `figures`.
#[derive(Debug, Clone, Args)]
pub struct FiguresArgs {
    /// Seed of the stream of problems and of every drawn wait.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Problems in the stream.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub problems: u64,
    /// The repeat window of the figures (the inspection fence's), in days.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub window_days: i64,
    /// Also write both logs to Kafka (`{topic}.pre-reform`, `{topic}.whistle`) and recompute the
    /// figures from what is read back.
    #[arg(long)]
    pub brokers: Option<String>,
    /// Topic prefix for `--brokers` (default: a fresh `loadtest-figures-<random>`).
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
}

/// Flags of `pipeline`.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Base URL of the stack (the ingress).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// WebSocket endpoint, when it is not `{base}/ws` (e.g. the gateway itself, bypassing the ingress).
    #[arg(long)]
    pub ws: Option<String>,
    /// Kafka brokers of the bare produce → consume baseline.
    #[arg(long, default_value = "127.0.0.1:19092")]
    pub brokers: String,
    /// Whistles raised per second (open loop).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
    /// How long to raise, unless `--count` is given.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: u64,
    /// Raise this many whistles instead of `rate × seconds`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Live boards held open, one per responsible department at most.
    #[arg(long, default_value_t = 64)]
    pub boards: usize,
    /// How long a duty officer thinks before acknowledging; 0 never acknowledges.
    #[arg(long, default_value_t = 500)]
    pub ack_think_ms: u64,
    /// Skip the bare Kafka and WebSocket baselines.
    #[arg(long = "no-baselines", action = clap::ArgAction::SetFalse)]
    pub baselines: bool,
}

/// Flags of `sustain`.
#[derive(Debug, Clone, Args)]
pub struct SustainArgs {
    /// Base URL of the stack (the ingress).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// WebSocket endpoint, when it is not `{base}/ws`.
    #[arg(long)]
    pub ws: Option<String>,
    /// How long each rate must be held.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..))]
    pub seconds: u64,
    /// The first rate tried, whistles per second.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub from: u64,
    /// The highest rate tried.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: u64,
    /// Each held rate is multiplied by this until one is not held.
    #[arg(long, default_value_t = 1.5, value_parser = parse_factor)]
    pub factor: f64,
    /// Bisecting stops when the lowest rate not held is within this fraction of the highest held.
    #[arg(long, default_value_t = 0.1, value_parser = parse_fraction)]
    pub precision: f64,
    /// p99 is growing when the last third's exceeds this × the first third's.
    #[arg(long, default_value_t = 1.5, value_parser = parse_factor)]
    pub p99_growth: f64,
    /// A first-third p99 below this counts as this (jitter at low rates is not a growing queue); 0: the bare rule.
    #[arg(long, default_value_t = 25)]
    pub p99_floor_ms: u64,
    /// A step whose raise → board p99 exceeds this is not held, growing or not (a backlog an earlier step left); 0: no bound.
    #[arg(long, default_value_t = 1000)]
    pub p99_max_ms: u64,
    /// Seconds the stack gets to settle between steps.
    #[arg(long, default_value_t = 5)]
    pub pause_secs: u64,
    /// Live boards held open, one per responsible department at most.
    #[arg(long, default_value_t = 64)]
    pub boards: usize,
    /// How long a duty officer thinks before acknowledging; 0 never acknowledges.
    #[arg(long, default_value_t = 500)]
    pub ack_think_ms: u64,
}

fn parse_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 1.0 && f <= 10.0 => Ok(f),
        _ => Err(format!("{s:?} is not a number above 1 and at most 10")),
    }
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f < 1.0 => Ok(f),
        _ => Err(format!("{s:?} is not a number between 0 and 1")),
    }
}

/// Flags of `idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Base URL of the stack (the ingress).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// WebSocket endpoint, when it is not `{base}/ws` (e.g. the gateway itself, bypassing the ingress).
    #[arg(long)]
    pub ws: Option<String>,
    /// Idle board connections to open.
    #[arg(long, default_value_t = 2000)]
    pub connections: usize,
    /// Subscribe every connection to one department's channel holding this many open cases
    /// (raised first, resolved again at the end; at most 500, the snapshot's size), as the
    /// department's officer. 0: town channels, one per connection in turn, as the city manager.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=500))]
    pub department_cases: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.mode {
        None => pipeline::run(&cli.pipeline).await,
        Some(Mode::Pipeline(args)) => pipeline::run(&args).await,
        Some(Mode::Sustain(args)) => sustain::run(&args).await,
        Some(Mode::Idle(args)) => idle::run(&args).await,
        Some(Mode::Figures(args)) => figures::run(&args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_is_shown_for_the_tool_and_each_mode() {
        for line in [
            "loadtest --help",
            "loadtest -h",
            "loadtest pipeline --help",
            "loadtest sustain --help",
            "loadtest idle --help",
            "loadtest figures --help",
        ] {
            let err = parse(line).expect_err(line);
            assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{line}");
        }
    }

    #[test]
    fn without_a_mode_it_runs_the_pipeline_with_the_defaults() {
        let cli = parse("loadtest").expect("parses");
        assert!(cli.mode.is_none());
        let a = cli.pipeline;
        assert_eq!((a.base.as_str(), a.brokers.as_str(), a.ws), ("http://127.0.0.1:8080", "127.0.0.1:19092", None));
        assert_eq!((a.rate, a.seconds, a.count, a.boards, a.ack_think_ms, a.baselines), (50, 10, None, 64, 500, true));
    }

    #[test]
    fn the_smoke_run_of_cargo_xtask_test_parses() {
        let a = parse("loadtest --rate 50 --count 100").expect("parses").pipeline;
        assert_eq!((a.rate, a.count), (50, Some(100)));
    }

    #[test]
    fn the_documented_pipeline_runs_parse() {
        let Some(Mode::Pipeline(a)) =
            parse("loadtest pipeline --rate 200 --seconds 20 --boards 64").expect("parses").mode
        else {
            panic!("pipeline mode")
        };
        assert_eq!((a.rate, a.seconds, a.boards, a.baselines), (200, 20, 64, true));
        let Some(Mode::Pipeline(a)) =
            parse("loadtest pipeline --rate 500 --seconds 20 --no-baselines").expect("parses").mode
        else {
            panic!("pipeline mode")
        };
        assert_eq!((a.rate, a.baselines), (500, false));
        let a = parse("loadtest --base http://h:1 --ws ws://h:2/ws --brokers k:3 --ack-think-ms 0")
            .expect("parses")
            .pipeline;
        assert_eq!(
            (a.base.as_str(), a.ws.as_deref(), a.brokers.as_str(), a.ack_think_ms),
            ("http://h:1", Some("ws://h:2/ws"), "k:3", 0)
        );
    }

    #[test]
    fn the_documented_sustain_runs_parse() {
        let Some(Mode::Sustain(a)) = parse("loadtest sustain").expect("parses").mode else { panic!("sustain mode") };
        assert_eq!((a.seconds, a.from, a.max, a.boards, a.ack_think_ms, a.p99_floor_ms), (60, 100, 4000, 64, 500, 25));
        assert_eq!(a.p99_max_ms, 1000);
        assert_eq!((a.factor, a.precision, a.p99_growth), (1.5, 0.1, 1.5));
        let Some(Mode::Sustain(a)) =
            parse("loadtest sustain --seconds 20 --from 200 --max 800 --factor 2 --precision 0.05 --p99-floor-ms 0")
                .expect("parses")
                .mode
        else {
            panic!("sustain mode")
        };
        assert_eq!((a.seconds, a.from, a.max, a.factor, a.precision, a.p99_floor_ms), (20, 200, 800, 2.0, 0.05, 0));
        for line in [
            "loadtest sustain --seconds 2",
            "loadtest sustain --from 0",
            "loadtest sustain --factor 1",
            "loadtest sustain --precision 1",
            "loadtest sustain --p99-growth 0.5",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn the_documented_idle_runs_parse() {
        let Some(Mode::Idle(a)) =
            parse("loadtest idle --connections 10000 --ws ws://127.0.0.1:8082/ws").expect("parses").mode
        else {
            panic!("idle mode")
        };
        assert_eq!(
            (a.connections, a.ws.as_deref(), a.base.as_str()),
            (10000, Some("ws://127.0.0.1:8082/ws"), "http://127.0.0.1:8080")
        );
        let Some(Mode::Idle(a)) = parse("loadtest idle").expect("parses").mode else { panic!("idle mode") };
        assert_eq!((a.connections, a.department_cases), (2000, 0));
        let line = "loadtest idle --connections 19000 --department-cases 500 --ws ws://127.0.0.1:8082/ws";
        let Some(Mode::Idle(a)) = parse(line).expect("parses").mode else { panic!("idle mode") };
        assert_eq!((a.connections, a.department_cases), (19000, 500));
        // A snapshot carries at most 500 cases: more would not be what each board is sent.
        assert!(parse("loadtest idle --department-cases 501").is_err());
    }

    #[test]
    fn the_documented_figures_runs_parse() {
        let Some(Mode::Figures(a)) = parse("loadtest figures").expect("parses").mode else { panic!("figures mode") };
        assert_eq!((a.seed, a.problems, a.window_days, a.brokers, a.topic), (1, 2000, 30, None, None));
        let Some(Mode::Figures(a)) =
            parse("loadtest figures --seed 7 --problems 500 --brokers k:1 --topic t").expect("parses").mode
        else {
            panic!("figures mode")
        };
        assert_eq!((a.seed, a.problems, a.brokers.as_deref(), a.topic.as_deref()), (7, 500, Some("k:1"), Some("t")));
        for line in ["loadtest figures --problems 0", "loadtest figures --topic t", "loadtest figures --seed -1"] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn zero_rates_counts_and_unknown_flags_are_refused() {
        for line in [
            "loadtest --rate 0",
            "loadtest --seconds 0",
            "loadtest pipeline --count 0",
            "loadtest --rat 5",
            "loadtest walk",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }
}
