use whistle_common::{settings, shutdown, telemetry};
use whistle_notify::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("notify");
    let settings: Settings = settings::load()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(shutdown::signal()).await
}
