//! Prints top-1 and top-3 accuracy of item suggestion on the labelled evaluation set.
//!
//! `cargo run -p whistle-assist --bin assist-eval [-- --misses] [--set FILE] [--registry FILE] [--data DIR]`

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use whistle_assist::{Assist, eval};
use whistle_registry::Registry;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut set = eval::default_path();
    let mut registry = root.join("deploy/data/registry.json");
    let mut data = root.join("deploy/data/assist");
    let mut misses = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--misses" => misses = true,
            "--set" => set = args.next().context("--set needs a file")?.into(),
            "--registry" => registry = args.next().context("--registry needs a file")?.into(),
            "--data" => data = args.next().context("--data needs a directory")?.into(),
            other => anyhow::bail!("unknown argument {other:?}"),
        }
    }
    let registry = Registry::load(&registry).context("loading the registry")?;
    let started = Instant::now();
    let assist = Assist::load(&data, &registry).context("loading the assist data")?;
    let built = started.elapsed();
    let cases = eval::load(&set)?;
    let started = Instant::now();
    let (all, by_lang, missed) = eval::evaluate(&assist.index, &cases);
    let per_query = started.elapsed() / cases.len().max(1) as u32;

    println!("evaluation set: {} ({} descriptions)", set.display(), all.total);
    println!("index: {} items, built in {built:.0?}; {per_query:.0?} per query on average", assist.index.len());
    println!("{:<8} {:>5} {:>8} {:>8} {:>6}", "lang", "n", "top-1", "top-3", "empty");
    for (lang, acc) in by_lang.iter().chain([(&"all".to_owned(), &all)]) {
        println!(
            "{:<8} {:>5} {:>7.1}% {:>7.1}% {:>6}",
            lang,
            acc.total,
            100.0 * acc.top1_rate(),
            100.0 * acc.top3_rate(),
            acc.empty
        );
    }
    if misses {
        println!("\nnot first (label → first suggestion):");
        for (case, first) in missed {
            println!("  {} → {}  {}", case.item, first.as_deref().unwrap_or("-"), case.text);
        }
    }
    Ok(())
}
