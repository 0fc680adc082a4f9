use clap::Parser;
use offline_access::logging;

#[tokio::main]
async fn main() {
    let format = match logging::LogFormat::parse(std::env::var("LOG_FORMAT").ok().as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    logging::init_logging(
        format,
        logging::log_filter(std::env::var("RUST_LOG").ok().as_deref()),
    );
    let cli = offline_access::cli::Cli::parse();
    if let Err(e) = offline_access::cli::run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(e.exit_code());
    }
}
