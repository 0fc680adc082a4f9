//! Load benchmark: the emulator and the app in one process on loopback, real HTTP.
//!
//! `cargo bench --bench load` (release build). Prints throughput, latency percentiles, CPU time
//! per request (client and servers together: an upper bound for the server side), and the
//! process's resident memory; figures go to BENCHMARKS.md. Every loop is bounded in count.
//! `BENCH_DATABASE_URL=postgres://…` runs it on PostgreSQL.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use offline_access::config::Settings;
use offline_access::emulator::{self, ClientKind, ClientRegistration};
use offline_access::google::GoogleConfig;

const CLIENT_ID: &str = "bench.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-bench";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

/// Runs `total` requests made by `make`, `concurrency` at a time; prints a line of figures.
async fn measure<F, Fut>(label: &str, total: usize, concurrency: usize, make: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    use futures_util::stream::{self, StreamExt};
    let started = Instant::now();
    let cpu_before = cpu_time();
    let latencies: Vec<(Duration, bool)> = stream::iter(0..total)
        .map(|i| {
            let fut = make(i);
            async move {
                let t = Instant::now();
                let ok = fut.await;
                (t.elapsed(), ok)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let failures = latencies.iter().filter(|(_, ok)| !ok).count();
    let mut ms: Vec<f64> = latencies
        .iter()
        .map(|(d, _)| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p) as usize];
    println!(
        "{label:<44} {total:>5} req  c={concurrency:<3} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  CPU {:>5.3} ms/req  failures {failures}",
        total as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        cpu.as_secs_f64() * 1000.0 / total as f64,
    );
}

/// Signs `account` in through the consent form; returns the client holding the session.
async fn sign_in(app: &str, emu: &str, account: &str) -> reqwest::Client {
    let c = client();
    let start = c.get(format!("{app}/oauth2callback")).send().await.unwrap();
    let auth = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = auth.query_pairs().into_owned().collect();
    form.push(("account".into(), account.into()));
    form.push(("action".into(), "allow".into()));
    form.push((
        "granted_scope".into(),
        "https://www.googleapis.com/auth/drive.metadata.readonly".into(),
    ));
    let back = c
        .post(format!("{emu}/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let done = c
        .get(back.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    c
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let emu_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (emu, emu_server) = emulator::start(emu_listener, emulator::Options::default()).unwrap();
    tokio::spawn(emu_server);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    emu.register_client(ClientRegistration {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        kind: ClientKind::Web,
        redirect_uris: vec![format!("{app}/oauth2callback")],
    });
    let db_url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.path().display()));
    let vars: HashMap<&str, String> = HashMap::from([
        ("APP_BASE_URL", app.clone()),
        ("DATABASE_URL", db_url.clone()),
        ("SECRET_KEY", "b".repeat(64)),
        ("DB_POOL_SIZE", "16".into()),
    ]);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let emu_url = url::Url::parse(&emu.url).unwrap();
    let google = GoogleConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.to_string().into(),
        redirect_uri: settings.redirect_uri(),
        issuer: emu_url.clone(),
        api_base: emu_url,
    };
    let db = offline_access::startup::connect_db(&settings)
        .await
        .unwrap();
    tokio::spawn(offline_access::startup::run(listener, settings, google, db).unwrap());
    let backend = if db_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("offline-access load benchmark ({backend}, release build, one process, loopback)");
    println!("RSS at start: {:.1} MiB", rss_mib());

    // The emulator alone: a 100-file Drive page.
    let alice = sign_in(&app, &emu.url, "alice@example.test").await;
    let token = {
        // A token straight from the emulator's token endpoint, via a second sign-in's code.
        let c = client();
        let auth = format!(
            "{}/o/oauth2/v2/auth?client_id={CLIENT_ID}&redirect_uri={app}/oauth2callback&response_type=code&scope=openid%20https://www.googleapis.com/auth/drive.metadata.readonly&state=s",
            emu.url
        );
        let auth = url::Url::parse(&auth).unwrap();
        let mut form: Vec<(String, String)> = auth.query_pairs().into_owned().collect();
        form.push(("account".into(), "alice@example.test".into()));
        form.push(("action".into(), "allow".into()));
        form.push((
            "granted_scope".into(),
            "https://www.googleapis.com/auth/drive.metadata.readonly".into(),
        ));
        let back = c
            .post(format!("{}/o/oauth2/v2/auth", emu.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        let loc = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
        let code = loc
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .to_string();
        let tok: serde_json::Value = c
            .post(format!("{}/token", emu.url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &format!("{app}/oauth2callback")),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tok["access_token"].as_str().unwrap().to_string()
    };
    let raw = client();
    let files_url = format!("{}/drive/v3/files?pageSize=100", emu.url);
    measure(
        "emulator GET /drive/v3/files pageSize=100",
        4000,
        16,
        |_| {
            let (c, u, t) = (raw.clone(), files_url.clone(), token.clone());
            async move {
                c.get(u)
                    .bearer_auth(t)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        },
    )
    .await;

    // The app: a signed-in home page (session load, credential read, Drive call, render).
    measure("app GET / (signed in, 25 Drive files)", 4000, 16, |_| {
        let (c, u) = (alice.clone(), format!("{app}/"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    measure("app GET /?page=2", 2000, 16, |_| {
        let (c, u) = (alice.clone(), format!("{app}/?page=2"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    measure("app GET / signed out (landing)", 4000, 16, |_| {
        let (c, u) = (raw.clone(), format!("{app}/"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    // Full sign-ins: authorization redirect, consent POST, code exchange, ID-token check, rows.
    let (app2, emu2) = (Arc::new(app.clone()), Arc::new(emu.url.clone()));
    measure("full sign-in (redirect, consent, exchange)", 300, 8, |i| {
        let (a, e) = (app2.clone(), emu2.clone());
        let who = [
            "alice@example.test",
            "bob@example.test",
            "admin@example.test",
        ][i % 3];
        async move {
            sign_in(&a, &e, who).await;
            true
        }
    })
    .await;

    // A refresh storm: 200 concurrent page views of one user whose token Google expired.
    reqwest::Client::new()
        .post(format!(
            "{}/emulator/accounts/alice@example.test/expire-tokens",
            emu.url
        ))
        .send()
        .await
        .unwrap();
    measure(
        "refresh storm: 200 requests, expired token",
        200,
        200,
        |_| {
            let (c, u) = (alice.clone(), format!("{app}/"));
            async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
        },
    )
    .await;
    let log: serde_json::Value = reqwest::get(format!("{}/emulator/requests", emu.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "refresh_token grants during the storm: {}",
        log["counts"]["token:refresh_token"]
    );
    println!("RSS at end: {:.1} MiB", rss_mib());
}
