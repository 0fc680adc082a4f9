use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(offline_access::web::telemetry::log_filter(
            std::env::var("RUST_LOG").ok().as_deref(),
        ))
        .with_target(false)
        // Colour codes only where a terminal shows them, not in files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let cli = offline_access::cli::Cli::parse();
    if let Err(e) = offline_access::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(e.exit_code());
    }
}
