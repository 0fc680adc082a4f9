//! The benchmark's driver: what `bench/run` (bench/run.py) asks of an app and an emulator
//! already running as separate processes, for the flows a generator such as `wrk` cannot make
//! (whole sign-ins, `POST /authcode`, the Gmail floor, a refresh storm), a browser's sign-in
//! whose session cookie the run then uses, and the database chores of the run. Built as the
//! cargo example `bench-driver` on the `testing` support of both crates (the consent form is
//! walked by `google_emulator::testing::walk_consent`), so the release binaries `bench/run`
//! measures are built without that feature.
//!
//! `bench-driver COMMAND --flag value …`; a flag may repeat. Every command prints one JSON line.
//! Timed commands answer
//! `{"ops", "failures", "error", "secs", "rps", "p50", "p95", "p99", "<name>_cpu_ms"}`: latencies
//! in ms, and for each `--pid NAME=PID` the CPU time (user + system, from `/proc/PID/stat`)
//! that process spent during the timed part, per operation (several pids of one name add up).
//! Work that only prepares the timed part (minting mobile codes) is done before it starts.
//!
//! ```text
//! sign-in        --app URL --account EMAIL [--grant gmail]
//!                  a browser's sign-in (and, with --grant gmail, the incremental Gmail grant
//!                  in the same browser); answers {"cookie": "oa_session=…"}
//! signins        --app URL --account EMAIL… --count N | --secs S --concurrency C
//!                  a browser's whole sign-in: GET /oauth2callback, the emulator's consent page,
//!                  the consent POST, the app's callback (code exchange), then GET /
//! signins-floor  --emulator URL --client-id ID --client-secret S --redirect-uri URI
//!                --account EMAIL… --count N | --secs S --concurrency C
//!                  the same dance with the emulator alone, the driver acting as the client:
//!                  authorize (state, nonce, PKCE S256), consent POST, code exchange at
//!                  /token, then the same Drive files.list GET / makes
//! authcode       --app URL --emulator URL --server-client-id ID --app-client-id ID
//!                --account EMAIL… --count N --concurrency C
//!                  N codes minted by the emulator's mobile sign-in first, then POST /authcode
//! authcode-floor --emulator URL --client-id ID --client-secret S --app-client-id ID
//!                --account EMAIL… --count N --concurrency C
//!                  the same codes, each redeemed at /token alone (redirect_uri empty)
//! gmail-floor    --emulator URL --token TOKEN --secs S --concurrency C
//!                  messages.list (25) + 25 messages.get, 8 at a time, with the app's client
//! get            --url URL… --cookie COOKIE --count N --concurrency C
//!                  N GETs expecting 200, request i to the (i mod k)-th URL
//! db-stats       --database URL
//!                  {"sessions", "users", "bytes", "measured"}: SQLite's file + -wal, or
//!                  pg_total_relation_size of the sessions table
//! seed-users     --database URL --count N --client-id ID [--deep K]
//!                  N users as `offline_access::testing`'s seed_users makes them; answers the
//!                  admin list's `after` cursor that starts the page after the K-th user
//! pg-create      --admin URL --name NAME       a fresh database; answers its URL
//! pg-drop        --admin URL --name NAME
//! ```

mod args;
mod authcode;
mod chores;
mod http;
mod pages;
mod signin;
mod timed;

use serde_json::Value;

use args::Args;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: bench-driver COMMAND --flag value … (see bench/driver/main.rs)");
        std::process::exit(2);
    };
    let result = match Args::parse(rest) {
        Ok(a) => run(command, &a).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("bench-driver {command}: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(command: &str, a: &Args) -> Result<Value, String> {
    match command {
        "sign-in" => signin::sign_in(a).await,
        "signins" => signin::signins(a).await,
        "signins-floor" => signin::signins_floor(a).await,
        "authcode" => authcode::authcode(a, false).await,
        "authcode-floor" => authcode::authcode(a, true).await,
        "gmail-floor" => pages::gmail_floor(a).await,
        "get" => pages::get(a).await,
        "db-stats" => chores::db_stats(a).await,
        "seed-users" => chores::seed_users(a).await,
        "pg-create" | "pg-drop" => chores::pg_admin(command, a).await,
        other => Err(format!("unknown command {other:?}")),
    }
}
