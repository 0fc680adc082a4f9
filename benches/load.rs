//! Load benchmark: the emulator and the app in one process on loopback, real HTTP.
//!
//! `cargo bench --bench load` (release build). Prints throughput, latency percentiles, CPU time
//! per request (client and servers together: an upper bound for the server side), and the
//! process's resident memory; figures go to BENCHMARKS.md. Every loop is bounded in count.
//! With `TEST_POSTGRES_URL` set it runs on a fresh PostgreSQL database instead of SQLite.

// The integration tests' TestApp: emulator + app on port 0 with a fresh database.
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "../tests/app/helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use helpers::{Backend, TestApp};

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

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backend = if std::env::var("TEST_POSTGRES_URL").is_ok() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    // Every sign-in of the run comes from this one address: lift its per-address allowance.
    let app = TestApp::spawn_on_with(backend, &[("SIGN_IN_RATE_PER_MINUTE", "100000000")])
        .await
        .unwrap();
    let (addr, emu) = (app.addr.clone(), app.emu.clone());
    println!("offline-access load benchmark ({backend:?}, release build, one process, loopback)");
    println!("RSS at start: {:.1} MiB", rss_mib());

    // The emulator alone: a 100-file Drive page, with the access token the app stored.
    let alice = app.sign_in_new_browser(&addr, "alice@example.test").await;
    let token = app
        .vault()
        .access_token(app.user_id("alice@example.test"), &[])
        .await
        .unwrap()
        .token;
    let raw = reqwest::Client::new();
    let files_url = format!("{emu}/drive/v3/files?pageSize=100");
    measure(
        "emulator GET /drive/v3/files pageSize=100",
        4000,
        16,
        |_| {
            let (c, u, t) = (raw.clone(), files_url.clone(), token.clone());
            async move {
                c.get(u)
                    .bearer_auth(t.expose())
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            }
        },
    )
    .await;

    // The app: a signed-in home page (session load, credential read, Drive call, render).
    measure("app GET / (signed in, 25 Drive files)", 4000, 16, |_| {
        let (c, u) = (alice.clone(), format!("{addr}/"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    // Page 2 through the Next link of page 1 (its page token travels in the link).
    let first = alice.get(format!("{addr}/")).send().await.unwrap();
    let first = first.text().await.unwrap();
    let marker = "data-testid=\"next-page\" href=\"";
    let start = first.find(marker).expect("a Next link") + marker.len();
    let next = first[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    measure("app GET / page 2 (Next link)", 2000, 16, |_| {
        let (c, u) = (alice.clone(), format!("{addr}{next}"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    measure("app GET / signed out (landing)", 4000, 16, |_| {
        let (c, u) = (raw.clone(), format!("{addr}/"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    // Full sign-ins: authorization redirect, consent POST, code exchange, ID-token check, rows.
    measure("full sign-in (redirect, consent, exchange)", 300, 8, |i| {
        let (app, addr) = (&app, &addr);
        let who = [
            "alice@example.test",
            "bob@example.test",
            "admin@example.test",
        ][i % 3];
        async move {
            app.sign_in_new_browser(addr, who).await;
            true
        }
    })
    .await;

    // The Gmail page: 1 messages.list + 25 messages.get (8 at a time) upstream, then the
    // render; its floor is the same 26 calls made directly with the same bound.
    app.sign_in("alice@example.test").await;
    let ask = app.get("/oauth2callback?grant=gmail").await;
    let auth = url::Url::parse(helpers::location(&ask)).unwrap();
    let back = app.consent(&auth, "alice@example.test", "allow").await;
    app.get_url(back.as_str()).await;
    let gmail_token = app
        .vault()
        .access_token(
            app.user_id("alice@example.test"),
            offline_access::google::gmail::SCOPES,
        )
        .await
        .unwrap()
        .token;
    let gmail = offline_access::google::gmail::Gmail::new(
        reqwest::Client::new(),
        url::Url::parse(&emu).unwrap(),
    );
    measure(
        "emulator: Gmail list + 25 gets (8 at a time)",
        500,
        16,
        |_| {
            let (gmail, token) = (&gmail, &gmail_token);
            async move {
                use futures_util::stream::{self, StreamExt};
                let Ok(list) = gmail.list_messages(token, 25, None, None).await else {
                    return false;
                };
                let got: Vec<bool> = stream::iter(list.messages.iter())
                    .map(|m| async move { gmail.summary(token, &m.id).await.is_ok() })
                    .buffered(8)
                    .collect()
                    .await;
                got.len() == 25 && got.iter().all(|ok| *ok)
            }
        },
    )
    .await;
    measure("app GET /gmail (signed in, 25 messages)", 500, 16, |_| {
        let (c, u) = (app.client.clone(), format!("{addr}/gmail"));
        async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    // A refresh storm: 200 concurrent page views of one user whose token Google expired.
    app.emu_post(
        "/emulator/accounts/alice@example.test/expire-tokens",
        serde_json::json!({}),
    )
    .await;
    let before = app.emu_count("token:refresh_token").await;
    measure(
        "refresh storm: 200 requests, expired token",
        200,
        200,
        |_| {
            let (c, u) = (alice.clone(), format!("{addr}/"));
            async move { c.get(u).send().await.is_ok_and(|r| r.status() == 200) }
        },
    )
    .await;
    println!(
        "refresh_token grants during the storm: {}",
        app.emu_count("token:refresh_token").await - before
    );
    println!("RSS at end: {:.1} MiB", rss_mib());
}
