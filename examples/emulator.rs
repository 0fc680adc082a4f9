//! `cargo run --example emulator -- --bind 127.0.0.1:8081` — the emulator alone.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: offline_access::emulator::EmulatorArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    offline_access::emulator::run_cli(Cli::parse().args).await
}
