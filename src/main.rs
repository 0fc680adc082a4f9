use clap::Parser;
use offline_access::web::telemetry;

#[tokio::main]
async fn main() {
    let format = match telemetry::LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init_logging(
        format,
        telemetry::log_filter(std::env::var("RUST_LOG").ok().as_deref()),
    );
    let cli = offline_access::cli::Cli::parse();
    if let Err(e) = offline_access::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(e.exit_code());
    }
}
