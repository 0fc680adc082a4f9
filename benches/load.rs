//! Load benchmark, in two modes.
//!
//! - `cargo bench --bench load` (no arguments): the emulator and the app in one process on
//!   loopback, real HTTP. Prints throughput, latency percentiles, CPU time per request (client
//!   and servers together: an upper bound for the server side), and the process's resident
//!   memory. Every loop is bounded in count. With `TEST_POSTGRES_URL` set it runs on a fresh
//!   PostgreSQL database instead of SQLite.
//! - `load COMMAND --flag value …` (what `bench/run` calls, the executable of
//!   `cargo bench --bench load --no-run`): a driver for an app and an emulator already running
//!   as separate processes, for the flows a generator such as `wrk` cannot do (full sign-ins,
//!   `POST /authcode`, the Gmail floor, a refresh storm) and the database chores of the run.
//!   Each command prints one JSON line on stdout. See [`driver`].

use std::time::{Duration, Instant};

use offline_access::testing::{self as helpers, Backend, TestApp};

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
    // `cargo bench` passes `--bench` to a bench without the standard harness.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        in_process().await;
    } else {
        std::process::exit(driver::main(args).await);
    }
}

/// The whole benchmark in one process (no arguments).
async fn in_process() {
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

/// The driver for an app and an emulator running as separate processes (`bench/run`).
///
/// Every command prints one JSON line. Timed commands answer
/// `{"ops", "failures", "error", "secs", "rps", "p50", "p95", "p99", "<name>_cpu_ms"}`: latencies
/// in ms, and for each `--pid NAME=PID` the CPU time (user + system, from `/proc/PID/stat`)
/// that process spent during the timed part, per operation (several pids of one name add up).
/// Work that only prepares the timed part (minting mobile codes) is done before it starts.
///
/// ```text
/// signins        --app URL --emulator URL --account EMAIL… --count N --concurrency C
///                  a browser's whole sign-in: GET /oauth2callback, the emulator's consent page,
///                  the consent POST, the app's callback (code exchange), then GET /
/// signins-floor  --emulator URL --client-id ID --client-secret S --redirect-uri URI
///                --account EMAIL… --count N --concurrency C
///                  the same dance with the emulator alone, the driver acting as the client:
///                  authorize (state, nonce, PKCE S256), consent POST, code exchange at
///                  /token, then the same Drive files.list GET / makes
/// authcode       --app URL --emulator URL --server-client-id ID --app-client-id ID
///                --account EMAIL… --count N --concurrency C
///                  N codes minted by the emulator's mobile sign-in first, then POST /authcode
/// authcode-floor --emulator URL --client-id ID --client-secret S --app-client-id ID
///                --account EMAIL… --count N --concurrency C
///                  the same codes, each redeemed at /token alone (redirect_uri empty)
/// gmail-floor    --emulator URL --token TOKEN --secs S --concurrency C
///                  messages.list (25) + 25 messages.get, 8 at a time, with the app's client
/// get            --url URL… --cookie COOKIE --count N --concurrency C
///                  N GETs expecting 200, request i to the (i mod k)-th URL
/// db-stats       --database URL
///                  {"sessions", "users", "bytes", "measured"}: SQLite's file + -wal, or
///                  pg_total_relation_size of the sessions table
/// seed-users     --database URL --count N --client-id ID [--deep K]
///                  N users as the tests' TestApp::seed_users makes them; answers the admin
///                  list's `after` cursor that starts the page after the K-th user
/// pg-create      --admin URL --name NAME       a fresh database; answers its URL
/// pg-drop        --admin URL --name NAME
/// ```
mod driver {
    use std::collections::HashMap;
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use base64::Engine;
    use futures_util::stream::{self, StreamExt};
    use rand::Rng;
    use serde_json::{json, Value};
    use sha2::Digest;
    use url::Url;

    use google_emulator::testing::{walk_consent, Consent};

    use offline_access::testing::client_with_jar;

    const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";
    /// The fields of the app's Drive files.list (src/google/drive.rs).
    const DRIVE_FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime)";

    /// `--flag value` pairs; a flag may repeat.
    struct Args(HashMap<String, Vec<String>>);

    impl Args {
        fn parse(args: &[String]) -> Result<Self, String> {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            let mut it = args.iter();
            while let Some(flag) = it.next() {
                let name = flag
                    .strip_prefix("--")
                    .ok_or_else(|| format!("expected --flag, got {flag:?}"))?;
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                map.entry(name.to_string()).or_default().push(value.clone());
            }
            Ok(Self(map))
        }
        fn all(&self, name: &str) -> Vec<String> {
            self.0.get(name).cloned().unwrap_or_default()
        }
        fn opt(&self, name: &str) -> Option<String> {
            self.0.get(name).and_then(|v| v.last()).cloned()
        }
        fn get(&self, name: &str) -> Result<String, String> {
            self.opt(name)
                .ok_or_else(|| format!("--{name} is required"))
        }
        fn num(&self, name: &str) -> Result<usize, String> {
            self.get(name)?
                .parse()
                .map_err(|_| format!("--{name} must be a number"))
        }
        fn accounts(&self) -> Result<Vec<String>, String> {
            let accounts = self.all("account");
            if accounts.is_empty() {
                return Err("at least one --account is required".into());
            }
            Ok(accounts)
        }
        /// `--pid NAME=PID`, repeatable.
        fn pids(&self) -> Result<Vec<(String, u32)>, String> {
            self.all("pid")
                .iter()
                .map(|p| {
                    let (name, pid) = p
                        .split_once('=')
                        .ok_or_else(|| format!("--pid wants NAME=PID, got {p:?}"))?;
                    Ok((
                        name.to_string(),
                        pid.parse().map_err(|_| format!("bad pid in {p:?}"))?,
                    ))
                })
                .collect()
        }
    }

    pub async fn main(args: Vec<String>) -> i32 {
        let (command, rest) = args.split_first().expect("a command");
        let result = match Args::parse(rest) {
            Ok(a) => run(command, &a).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(v) => {
                println!("{v}");
                0
            }
            Err(e) => {
                eprintln!("load {command}: {e}");
                2
            }
        }
    }

    async fn run(command: &str, a: &Args) -> Result<Value, String> {
        match command {
            "signins" => signins(a).await,
            "signins-floor" => signins_floor(a).await,
            "authcode" => authcode(a, false).await,
            "authcode-floor" => authcode(a, true).await,
            "gmail-floor" => gmail_floor(a).await,
            "get" => get(a).await,
            "db-stats" => db_stats(a).await,
            "seed-users" => seed_users(a).await,
            "pg-create" | "pg-drop" => pg_admin(command, a).await,
            other => Err(format!("unknown command {other:?}")),
        }
    }

    /// How long the timed part lasts: a count of operations, or a time.
    #[derive(Clone, Copy)]
    enum Limit {
        Count(usize),
        Secs(f64),
    }

    impl Limit {
        fn of(a: &Args) -> Result<Self, String> {
            match (a.opt("count"), a.opt("secs")) {
                (Some(_), None) => Ok(Self::Count(a.num("count")?)),
                (None, Some(s)) => Ok(Self::Secs(
                    s.parse().map_err(|_| "--secs must be a number")?,
                )),
                _ => Err("give exactly one of --count and --secs".into()),
            }
        }
    }

    /// User + system CPU seconds of `pid` so far.
    fn cpu_seconds(pid: u32) -> Result<f64, String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        let after_name = stat.rsplit(')').next().unwrap_or_default();
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; [0] here is field 3 (state). Linux
        // reports them in USER_HZ, 100 a second.
        let ticks: u64 = fields
            .get(11..13)
            .ok_or("short /proc stat")?
            .iter()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .sum();
        Ok(ticks as f64 / 100.0)
    }

    fn cpu_of(pids: &[(String, u32)]) -> Result<Vec<f64>, String> {
        pids.iter().map(|(_, p)| cpu_seconds(*p)).collect()
    }

    /// Runs `op(i)` for i = 0, 1, … `concurrency` at a time within `limit`; the figures.
    async fn timed<F, Fut>(
        limit: Limit,
        concurrency: usize,
        pids: &[(String, u32)],
        op: F,
    ) -> Result<Value, String>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let concurrency = concurrency.max(1);
        let one = |i: usize| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                let r = fut.await;
                (t.elapsed(), r)
            }
        };
        let cpu_before = cpu_of(pids)?;
        let started = Instant::now();
        let results: Vec<(Duration, Result<(), String>)> = match limit {
            Limit::Count(n) => {
                stream::iter(0..n)
                    .map(one)
                    .buffer_unordered(concurrency)
                    .collect()
                    .await
            }
            Limit::Secs(secs) => {
                let deadline = started + Duration::from_secs_f64(secs);
                let next = AtomicUsize::new(0);
                let workers = (0..concurrency).map(|_| async {
                    let mut mine = Vec::new();
                    while Instant::now() < deadline {
                        mine.push(one(next.fetch_add(1, Ordering::Relaxed)).await);
                    }
                    mine
                });
                futures_util::future::join_all(workers)
                    .await
                    .into_iter()
                    .flatten()
                    .collect()
            }
        };
        let secs = started.elapsed().as_secs_f64();
        let cpu_after = cpu_of(pids)?;
        let ops = results.len();
        if ops == 0 {
            return Err("no operation completed".into());
        }
        let failures = results.iter().filter(|(_, r)| r.is_err()).count();
        let error = results.iter().find_map(|(_, r)| r.clone().err());
        let mut ms: Vec<f64> = results
            .iter()
            .map(|(d, _)| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
        let mut out = json!({
            "ops": ops,
            "failures": failures,
            "error": error,
            "secs": secs,
            "rps": ops as f64 / secs,
            "p50": pct(0.50),
            "p95": pct(0.95),
            "p99": pct(0.99),
        });
        let mut cpu: HashMap<&str, f64> = HashMap::new();
        for (((name, _), before), after) in pids.iter().zip(&cpu_before).zip(&cpu_after) {
            *cpu.entry(name.as_str()).or_default() += after - before;
        }
        for (name, seconds) in cpu {
            out[format!("{name}_cpu_ms")] = json!(seconds * 1000.0 / ops as f64);
        }
        Ok(out)
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    }

    fn err(what: &str) -> impl Fn(reqwest::Error) -> String + '_ {
        move |e| format!("{what}: {e}")
    }

    fn location(resp: &reqwest::Response, what: &str) -> Result<Url, String> {
        let loc = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| format!("{what} answered {} without a Location", resp.status()))?;
        Url::parse(loc)
            .or_else(|_| resp.url().join(loc))
            .map_err(|e| format!("{what}: bad Location {loc:?}: {e}"))
    }

    /// Reads the whole body of a response that must have `status`.
    async fn expect(resp: reqwest::Response, status: u16, what: &str) -> Result<String, String> {
        let got = resp.status().as_u16();
        let body = resp.text().await.map_err(err(what))?;
        if got != status {
            let head: String = body.chars().take(200).collect();
            return Err(format!("{what} answered {got}, wanted {status}: {head}"));
        }
        Ok(body)
    }

    fn random(n: usize) -> String {
        rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(n)
            .map(char::from)
            .collect()
    }

    /// The browser on the emulator's consent screen (the emulator's consent walker): every
    /// requested scope ticked and Allow; returns where the emulator redirects (back to the
    /// client). A screen the emulator skips is that redirect at once.
    async fn consent(
        browser: &reqwest::Client,
        _emu: &str,
        auth: &Url,
        account: &str,
    ) -> Result<Url, String> {
        let back = walk_consent(browser, auth.as_str(), Consent::allow(account)).await?;
        Url::parse(&back).map_err(|e| format!("the consent redirect {back}: {e}"))
    }

    /// One browser's whole sign-in at the app, ending on its signed-in home page.
    async fn app_sign_in(app: &str, emu: &str, account: &str) -> Result<(), String> {
        let (browser, _) = client_with_jar();
        let start = browser
            .get(format!("{app}/oauth2callback"))
            .send()
            .await
            .map_err(err("GET /oauth2callback"))?;
        if start.status() != 302 {
            return Err(format!("GET /oauth2callback answered {}", start.status()));
        }
        let auth = location(&start, "GET /oauth2callback")?;
        let back = consent(&browser, emu, &auth, account).await?;
        if !back.as_str().starts_with(app) {
            return Err(format!("the emulator sent the browser to {back}"));
        }
        let done = browser
            .get(back.as_str())
            .send()
            .await
            .map_err(err("the callback"))?;
        expect(done, 303, "the callback").await?;
        let home = browser
            .get(format!("{app}/"))
            .send()
            .await
            .map_err(err("GET /"))?;
        let html = expect(home, 200, "GET / after sign-in").await?;
        if !html.contains("data-testid=\"sign-out\"") {
            return Err("GET / after sign-in is not signed in".into());
        }
        Ok(())
    }

    async fn signins(a: &Args) -> Result<Value, String> {
        let (app, emu) = (a.get("app")?, a.get("emulator")?);
        let accounts = a.accounts()?;
        timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
            let (app, emu, account) = (&app, &emu, &accounts[i % accounts.len()]);
            async move { app_sign_in(app, emu, account).await }
        })
        .await
    }

    struct Client {
        emu: String,
        id: String,
        secret: String,
        redirect_uri: String,
    }

    /// The client's side of the dance with the emulator alone: what the app's callback and its
    /// home page ask of Google, without the app (the ID token is read, not verified).
    async fn floor_sign_in(
        c: &Client,
        server: &reqwest::Client,
        account: &str,
    ) -> Result<(), String> {
        let (browser, _) = client_with_jar();
        let (state, nonce, verifier) = (random(22), random(22), random(64));
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut auth = Url::parse(&format!("{}/o/oauth2/v2/auth", c.emu)).unwrap();
        auth.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &c.id)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("redirect_uri", &c.redirect_uri)
            .append_pair("scope", &format!("openid email profile {DRIVE_SCOPE}"))
            .append_pair("nonce", &nonce)
            .append_pair("access_type", "offline")
            .append_pair("include_granted_scopes", "true");
        let back = consent(&browser, &c.emu, &auth, account).await?;
        let param = |name: &str| {
            back.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
        };
        if param("state").as_deref() != Some(state.as_str()) {
            return Err(format!("the emulator's redirect lost the state: {back}"));
        }
        let code = param("code").ok_or_else(|| format!("no code in {back}"))?;
        let resp = server
            .post(format!("{}/token", c.emu))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &c.redirect_uri),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .map_err(err("the code exchange"))?;
        let body = expect(resp, 200, "the code exchange").await?;
        let tokens: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let access = tokens["access_token"]
            .as_str()
            .ok_or("no access_token in the token response")?;
        if tokens["id_token"].as_str().is_none() {
            return Err("no id_token in the token response".into());
        }
        let files = server
            .get(format!("{}/drive/v3/files", c.emu))
            .query(&[
                ("pageSize", "25"),
                ("orderBy", "modifiedTime desc"),
                ("fields", DRIVE_FIELDS),
            ])
            .bearer_auth(access)
            .send()
            .await
            .map_err(err("files.list"))?;
        let body = expect(files, 200, "files.list").await?;
        serde_json::from_str::<Value>(&body).map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn signins_floor(a: &Args) -> Result<Value, String> {
        let client = Client {
            emu: a.get("emulator")?,
            id: a.get("client-id")?,
            secret: a.get("client-secret")?,
            redirect_uri: a.get("redirect-uri")?,
        };
        let accounts = a.accounts()?;
        let server = http();
        timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
            let (client, server) = (&client, &server);
            let account = &accounts[i % accounts.len()];
            async move { floor_sign_in(client, server, account).await }
        })
        .await
    }

    /// What Google Sign-In on a phone hands the app: one serverAuthCode per call, `n` of them.
    async fn mint_codes(
        emu: &str,
        app_client: &str,
        server_client: &str,
        accounts: &[String],
        n: usize,
    ) -> Result<Vec<String>, String> {
        let http = http();
        let codes: Vec<Result<String, String>> = stream::iter(0..n)
            .map(|i| {
                let http = &http;
                let body = json!({
                    "account": accounts[i % accounts.len()],
                    "client_id": app_client,
                    "server_client_id": server_client,
                    "scopes": [DRIVE_SCOPE],
                });
                async move {
                    let resp = http
                        .post(format!("{emu}/emulator/mobile-sign-in"))
                        .json(&body)
                        .send()
                        .await
                        .map_err(err("mobile-sign-in"))?;
                    let body = expect(resp, 200, "/emulator/mobile-sign-in").await?;
                    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                    v["server_auth_code"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| "no server_auth_code".to_string())
                }
            })
            .buffered(8)
            .collect()
            .await;
        codes.into_iter().collect()
    }

    async fn authcode(a: &Args, floor: bool) -> Result<Value, String> {
        let emu = a.get("emulator")?;
        let accounts = a.accounts()?;
        let n = a.num("count")?;
        let server_client = if floor {
            a.get("client-id")?
        } else {
            a.get("server-client-id")?
        };
        let codes =
            mint_codes(&emu, &a.get("app-client-id")?, &server_client, &accounts, n).await?;
        let http = http();
        let (concurrency, pids) = (a.num("concurrency")?, a.pids()?);
        if floor {
            let secret = a.get("client-secret")?;
            timed(Limit::Count(n), concurrency, &pids, |i| {
                let (http, emu, id, secret, code) =
                    (&http, &emu, &server_client, &secret, &codes[i]);
                async move {
                    let resp = http
                        .post(format!("{emu}/token"))
                        .basic_auth(id, Some(secret))
                        .form(&[
                            ("grant_type", "authorization_code"),
                            ("code", code.as_str()),
                            ("redirect_uri", ""),
                        ])
                        .send()
                        .await
                        .map_err(err("/token"))?;
                    let body = expect(resp, 200, "the code exchange").await?;
                    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                    v["id_token"]
                        .as_str()
                        .map(|_| ())
                        .ok_or_else(|| "no id_token".to_string())
                }
            })
            .await
        } else {
            let app = a.get("app")?;
            timed(Limit::Count(n), concurrency, &pids, |i| {
                let (http, app, code) = (&http, &app, &codes[i]);
                async move {
                    let resp = http
                        .post(format!("{app}/authcode"))
                        .header("X-Requested-With", "com.example.app")
                        .form(&[("authCode", code.as_str())])
                        .send()
                        .await
                        .map_err(err("POST /authcode"))?;
                    let body = expect(resp, 200, "POST /authcode").await?;
                    let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                    v["user_id"]
                        .as_i64()
                        .map(|_| ())
                        .ok_or_else(|| format!("POST /authcode answered {body}"))
                }
            })
            .await
        }
    }

    async fn gmail_floor(a: &Args) -> Result<Value, String> {
        use offline_access::google::gmail::Gmail;
        use offline_access::web::handlers::gmail::CONCURRENT_GETS;
        let emu = Url::parse(&a.get("emulator")?).map_err(|e| e.to_string())?;
        let token = offline_access::secret::Token::new(a.get("token")?);
        // The app's own client, configured as the app configures it.
        let http =
            offline_access::google::http_client(Duration::from_secs(5), Duration::from_secs(15))
                .map_err(|e| e.to_string())?;
        let gmail = Gmail::new(http, emu);
        timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |_| {
            let (gmail, token) = (&gmail, &token);
            async move {
                let list = gmail
                    .list_messages(token, 25, None, None)
                    .await
                    .map_err(|e| format!("messages.list: {e}"))?;
                let got: Vec<Result<_, _>> = stream::iter(list.messages.iter())
                    .map(|m| gmail.summary(token, &m.id))
                    .buffered(CONCURRENT_GETS)
                    .collect()
                    .await;
                if got.len() != 25 {
                    return Err(format!("messages.list gave {} messages", got.len()));
                }
                got.into_iter()
                    .try_for_each(|r| r.map(|_| ()))
                    .map_err(|e| format!("messages.get: {e}"))
            }
        })
        .await
    }

    async fn get(a: &Args) -> Result<Value, String> {
        let urls = a.all("url");
        if urls.is_empty() {
            return Err("at least one --url is required".into());
        }
        let cookie = a.opt("cookie");
        let http = http();
        timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
            let mut req = http.get(&urls[i % urls.len()]);
            if let Some(c) = &cookie {
                req = req.header(reqwest::header::COOKIE, c);
            }
            async move {
                let resp = req.send().await.map_err(err("GET"))?;
                expect(resp, 200, "GET").await.map(|_| ())
            }
        })
        .await
    }

    fn open(url: &str) -> Result<offline_access::store::Db, String> {
        offline_access::store::Db::open(&offline_access::store::DatabaseSettings {
            url: url.to_string(),
            pool_size: 1,
            timeout: Duration::from_secs(30),
        })
        .map_err(|e| format!("{e:#}"))
    }

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    async fn db_stats(a: &Args) -> Result<Value, String> {
        use diesel::prelude::*;
        let url = a.get("database")?;
        let db = open(&url)?;
        let count = |sql: &'static str| {
            db.run_blocking(move |c| Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n))
                .map_err(|e| format!("{e:#}"))
        };
        let sessions = count("SELECT COUNT(*) AS n FROM sessions")?;
        let users = count("SELECT COUNT(*) AS n FROM users")?;
        let (bytes, measured) = match offline_access::config::sqlite_path(&url) {
            Some(path) => {
                let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
                ((size(&path) + size(&wal)) as i64, "SQLite file + -wal")
            }
            None => (
                count("SELECT pg_total_relation_size('sessions')::bigint AS n")?,
                "pg_total_relation_size('sessions')",
            ),
        };
        Ok(json!({"sessions": sessions, "users": users, "bytes": bytes, "measured": measured}))
    }

    /// The users of the tests' `TestApp::seed_users` (tests/app/helpers.rs), made the same way:
    /// `user00000@load.test` …, seen one minute apart from 2025-01-01 (the highest number most
    /// recently), users 0–99 needing consent, 100–109 with a failing refresh, the rest active.
    async fn seed_users(a: &Args) -> Result<Value, String> {
        use diesel::prelude::*;
        use offline_access::store::schema::users;
        let (url, n, client_id) = (a.get("database")?, a.num("count")?, a.get("client-id")?);
        let base = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let at = |i: usize| base + chrono::Duration::minutes(i as i64);
        let mut statements = Vec::new();
        for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|&i| {
                    format!(
                        "('load-{i}', 'user{i:05}@load.test', TRUE, 'Load User {i:05}', FALSE, '{t}', '{t}')",
                        t = at(i).format("%Y-%m-%d %H:%M:%S")
                    )
                })
                .collect();
            statements.push(format!(
                "INSERT INTO users (google_sub, email, email_verified, name, is_admin, created_at, last_seen_at) VALUES {}",
                rows.join(", ")
            ));
        }
        let list = |r: std::ops::Range<usize>| {
            r.map(|i| format!("'load-{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        };
        statements.push(format!(
            "INSERT INTO credentials (user_id, client_id, scopes, status, updated_at, last_error, last_error_at) \
             SELECT id, '{client_id}', 'openid', \
               CASE WHEN google_sub IN ({consent}) THEN 'needs_consent' ELSE 'active' END, created_at, \
               CASE WHEN google_sub IN ({failing}) THEN 'refresh failed: the sign-in provider is unavailable' END, \
               CASE WHEN google_sub IN ({failing}) THEN created_at END \
             FROM users WHERE google_sub LIKE 'load-%'",
            consent = list(0..100),
            failing = list(100..110),
        ));
        let db = open(&url)?;
        let started = Instant::now();
        db.run_blocking(move |c| {
            c.transaction::<_, anyhow::Error, _>(|c| {
                for s in &statements {
                    diesel::sql_query(s.as_str()).execute(c)?;
                }
                Ok(())
            })
        })
        .map_err(|e| format!("seeding users: {e:#}"))?;
        if url.starts_with("postgres") {
            // What autovacuum does soon after a bulk load: the planner's statistics, the
            // visibility map and the trigram indexes' pending entries merged. Measuring before
            // it would measure the load, not the list.
            db.run_blocking(|c| Ok(diesel::sql_query("VACUUM ANALYZE").execute(c)?))
                .map_err(|e| format!("VACUUM ANALYZE after seeding: {e:#}"))?;
        }
        let secs = started.elapsed().as_secs_f64();
        let mut out = json!({"seeded": n, "secs": secs});
        if let Some(k) = a.opt("deep") {
            let k: usize = k.parse().map_err(|_| "--deep must be a number")?;
            let email = format!("user{k:05}@load.test");
            let (id, seen) = db
                .run_blocking(move |c| {
                    Ok(users::table
                        .filter(users::email.eq(email))
                        .select((users::id, users::last_seen_at))
                        .first::<(i64, chrono::NaiveDateTime)>(c)?)
                })
                .map_err(|e| format!("{e:#}"))?;
            // The cursor the admin list's Next link carries (src/web/admin/users.rs).
            out["deep_after"] = json!(format!("{}_{id}", seen.and_utc().timestamp_micros()));
        }
        Ok(out)
    }

    async fn pg_admin(command: &str, a: &Args) -> Result<Value, String> {
        use diesel::prelude::*;
        let (admin, name) = (a.get("admin")?, a.get("name")?);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("{name:?} is not a plain database name"));
        }
        let mut conn = diesel::PgConnection::establish(&admin)
            .map_err(|e| format!("connecting to {admin}: {e}"))?;
        if command == "pg-create" {
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
            let mut url = Url::parse(&admin).map_err(|e| e.to_string())?;
            url.set_path(&name);
            #[derive(diesel::QueryableByName)]
            struct Version {
                #[diesel(sql_type = diesel::sql_types::Text)]
                v: String,
            }
            let version = diesel::sql_query("SELECT current_setting('server_version') AS v")
                .get_result::<Version>(&mut conn)
                .map(|r| r.v)
                .unwrap_or_default();
            Ok(json!({"url": url.to_string(), "server_version": version}))
        } else {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .map_err(|e| format!("DROP DATABASE {name}: {e}"))?;
            Ok(json!({"dropped": name}))
        }
    }
}
