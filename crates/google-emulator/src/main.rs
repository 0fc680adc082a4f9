//! `google-emulator`: the emulator on its own, for end-to-end suites in any language.

use clap::Parser;

/// A faithful local Google: OAuth 2.0 / OpenID Connect, Drive v3 and Gmail v1.
#[derive(Debug, Parser)]
#[command(name = "google-emulator", version)]
struct Cli {
    #[command(flatten)]
    args: google_emulator::EmulatorArgs,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = google_emulator::run_cli(cli.args, &mut std::io::stdout()).await {
        eprintln!("google-emulator: {e:#}");
        std::process::exit(1);
    }
}
