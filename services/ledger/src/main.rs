use whistle_common::{settings, shutdown, telemetry};
use whistle_ledger::{Application, Settings, rebuild, store::LedgerStore};

/// `whistle-ledger` serves; `whistle-ledger rebuild [--reset]` replays the case topic into an
/// empty ledger (`--reset` empties it first) and exits.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ledger");
    let settings: Settings = settings::load()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown::signal()).await
        }
        ["rebuild", rest @ ..] if rest.iter().all(|a| *a == "--reset") => {
            settings.validate()?;
            let store = LedgerStore::connect(&settings.database).await?;
            if rest.contains(&"--reset") {
                store.reset().await?;
            }
            let existing = store.count().await?;
            anyhow::ensure!(
                existing == 0,
                "the ledger holds {existing} cases: rebuild into an empty database, or pass --reset to empty it \
                 (stop the ledger service first)"
            );
            let started = std::time::Instant::now();
            let done = rebuild::replay(&settings.kafka, &store).await?;
            tracing::info!(
                ?done,
                cases = store.count().await?,
                seconds = started.elapsed().as_secs_f64(),
                "ledger rebuilt"
            );
            println!("{done:?} cases={} in {:.1}s", store.count().await?, started.elapsed().as_secs_f64());
            Ok(())
        }
        other => anyhow::bail!("usage: whistle-ledger [rebuild [--reset]]; got {other:?}"),
    }
}
