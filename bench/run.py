"""Every figure of issue 16, each beside its floor measured in the same run.

Started by `bench/run` after the release build and the driver's build. Everything runs on
loopback, with the Google emulator (`google-emulator`) and the app (`offline-access serve`)
as separate processes, the emulator configured as the app's provider. The app runs on SQLite,
then (when TEST_POSTGRES_URL is set) on a fresh PostgreSQL database created for the run and
dropped after it. For each backend, in this order:

1. memory: the app's RSS idle, then after 1,000 and 10,000 signed-in sessions (whole sign-ins
   by the driver, rotating over 8 accounts of 25 Drive files each), and the database's size
   per session;
2. signed-in `GET /` (one Drive files.list upstream) with `wrk` at c=1 and c=64; floor: the
   same files.list asked of the emulator directly;
3. `/gmail` (1 messages.list + 25 messages.get, 8 at a time) with `wrk`; floor: the same 26
   calls by the driver with the app's own Gmail client and the same bound;
4. whole sign-ins per second (driver); floor: the same dance with the emulator alone;
5. `POST /authcode` per second (driver; the codes are minted before the timed part); floor:
   each code's exchange at the emulator's token endpoint alone;
6. `/admin/users` at 100,000 seeded users, first page, a deep page and a search, with `wrk`
   at c=1; floor: the app's `/healthz`;
7. a refresh storm: 200 concurrent `GET /` of one user whose access token the emulator
   expired, counting the refresh_token grants it saw (and on PostgreSQL the same across two
   app instances on one database, 100 requests each).

Every figure is the median of BENCH_RUNS (3) runs of BENCH_SECS (5) seconds (or of a bounded
count, for the driver's flows); the app's CPU per request is read from its own /proc/PID/stat,
so it is the app's alone (the emulator's, likewise, is its own). The output is markdown,
ready for BENCHMARKS.md.

Knobs (environment): BENCH_RUNS, BENCH_SECS, BENCH_SESSIONS (the session counts of the memory
section, default "1000,10000"), BENCH_USERS (100000), BENCH_AUTHCODES (codes per run, 1000),
BENCH_ONLY (a comma-separated list of memory, home, gmail, signins, authcode, admin, storm: only
those sections), TEST_POSTGRES_URL, BENCH_BASELINE_BIN (a folder with another build's
`offline-access` release binary: the `home` section then measures the signed-in `GET /` of that
app too, with a database of its own and an emulator of its own of this build's, so both apps
meet the same upstream; each build goes first in half of the runs, and both are printed beside
the floor).

This file only orchestrates (processes, `wrk`, medians, markdown): every browser flow (sign-ins,
the consent form, the Gmail grant) and the database chores are the driver's (bench/driver/, the
cargo example `bench-driver`, whose path bench/run passes in BENCH_DRIVER).
"""

import datetime
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
# The binaries the run starts: copied from RELEASE at the start, so that every process of the
# run (the second app instance too) is the same build even if target/ is rebuilt meanwhile.
BIN = RELEASE
DRIVER = os.environ.get("BENCH_DRIVER", "")
BASELINE = os.environ.get("BENCH_BASELINE_BIN", "")
BINARIES = ("offline-access", "google-emulator")
# Where the baseline's binaries are copied at the start, as BIN.
BASELINE_BIN = BASELINE
LUA = os.path.join(ROOT, "bench", "wrk-report.lua")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECS = float(os.environ.get("BENCH_SECS", "5"))
SESSIONS = [int(n) for n in os.environ.get("BENCH_SESSIONS", "1000,10000").split(",")]
USERS = int(os.environ.get("BENCH_USERS", "100000"))
AUTHCODES = int(os.environ.get("BENCH_AUTHCODES", "1000"))
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "")
SECTIONS = ("memory", "home", "gmail", "signins", "authcode", "admin", "storm")
ONLY = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w]

CLIENT_ID = "bench.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-bench-secret"
ANDROID_APP = "100000000001-emulatorandroid.apps.googleusercontent.com"
FIELDS = "nextPageToken,files(id,name,mimeType,modifiedTime)"
GMAIL = "https://www.googleapis.com/auth/gmail.readonly"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Accounts the sign-in, session and /authcode flows rotate over (alice is kept for the page
# views, Gmail and the storm; admin for the dashboard).
SIGN_IN_ACCOUNTS = [f"signin{i}@bench.test" for i in range(8)]
SIGN_IN_CONCURRENCY = 8
STORM = 200
MB = 1_000_000 / 2**20  # 50 MB in MiB: 50 * MB

# (backend, what, figure text, target text, met)
TARGETS = []


def wanted(section):
    return not ONLY or section in ONLY


def fail(message):
    sys.exit(f"bench: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, proc=None, log=None):
    for _ in range(400):
        if proc is not None and proc.poll() is not None:
            fail(f"{url}: the process exited ({proc.returncode}); see {log}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    fail(f"{url} did not answer")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat; [0] here is field 3 (state).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url, connections, headers=(), pids=()):
    """One wrk run; CPU per request of each (name, pid) in `pids`, read around it."""
    threads = min(connections, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECS:g}s", "-s", LUA]
    for h in headers:
        cmd += ["-H", h]
    before = {name: cpu_seconds(pid) for name, pid in pids}
    out = subprocess.run(cmd + [url], capture_output=True, text=True)
    after = {name: cpu_seconds(pid) for name, pid in pids}
    m = re.search(r"^WRK-JSON (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        fail(f"wrk failed on {url}: {out.stdout}{out.stderr}")
    r = json.loads(m.group(1))
    n = max(r["requests"], 1)
    result = {
        "ops": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50": r["p50"],
        "p95": r["p95"],
        "p99": r["p99"],
        "failures": r["status_errors"] + r["socket_errors"],
    }
    for name, _ in pids:
        result[f"{name}_cpu_ms"] = (after[name] - before[name]) * 1000 / n
    return result


def driver(command, *flags, pids=()):
    """One driver command (bench/driver/); its JSON answer."""
    cmd = [DRIVER, command]
    for i in range(0, len(flags), 2):
        cmd += [f"--{flags[i]}", str(flags[i + 1])]
    for name, pid in pids:
        cmd += ["--pid", f"{name}={pid}"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"driver {command} failed: {out.stderr.strip() or out.stdout.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs):
    keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))]
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["failures"] = sum(r["failures"] for r in runs)
    errors = [r.get("error") for r in runs if r.get("error")]
    out["error"] = errors[0] if errors else None
    return out


def post_json(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    return json.load(urllib.request.urlopen(req))


def fetch(url, cookie=None):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        resp = opener.open(req)
        return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def sign_in(app, account, grant=None):
    """A browser's sign-in at the app (by the driver), with the Gmail grant when `grant` is
    "gmail"; its session cookie, as a `Cookie` header's value."""
    flags = ("app", app, "account", account) + (("grant", grant) if grant else ())
    return driver("sign-in", *flags)["cookie"]


def access_token(emu, email, scope=None):
    """The emulator's longest-lived access token of `email` (holding `scope`)."""
    state = json.load(urllib.request.urlopen(f"{emu}/emulator/state"))
    tokens = [
        t
        for t in state["access_tokens"]
        if t.get("email") == email and (scope is None or scope in t.get("scopes", []))
    ]
    if not tokens:
        fail(f"no access token for {email} (scope {scope}) in the emulator's state")
    return max(tokens, key=lambda t: t["expires_at"])["token"]


def emu_count(emu, key):
    log = json.load(urllib.request.urlopen(f"{emu}/emulator/requests"))
    return log["counts"].get(key, 0)


def ms(x):
    return f"{x:.3f} ms" if x < 10 else f"{x:.1f} ms"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "–"


def target(backend, what, figure, goal, met):
    TARGETS.append((backend, what, figure, goal, met))


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


class Stack:
    """The emulator and the app (and a second app instance, on demand) for one backend."""

    def __init__(self, backend, work, database_url, bin_dir=None):
        self.backend, self.work, self.database_url = backend, work, database_url
        self.bin = bin_dir or BIN
        self.procs = []
        emu_port, app_port = free_port(), free_port()
        self.emu = f"http://127.0.0.1:{emu_port}"
        self.app = f"http://127.0.0.1:{app_port}"
        log = os.path.join(work, "emulator.log")
        self.emu_proc = self.spawn(
            [os.path.join(self.bin, "google-emulator"), "--bind", f"127.0.0.1:{emu_port}"], log
        )
        wait_for(f"{self.emu}/.well-known/openid-configuration", self.emu_proc, log)
        post_json(
            f"{self.emu}/emulator/clients",
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "kind": "web",
                "redirect_uris": [f"{self.app}/oauth2callback"],
            },
        )
        for email in SIGN_IN_ACCOUNTS:
            n = email.split("@")[0]
            files = [
                {
                    "name": f"{n} file {i:02}.txt",
                    "mimeType": "text/plain",
                    "modifiedTime": f"2025-01-{1 + i % 28:02}T10:00:{i:02}Z",
                }
                for i in range(25)
            ]
            post_json(
                f"{self.emu}/emulator/accounts",
                {"email": email, "name": f"Bench {n}", "files": files},
            )
        self.secret_file = os.path.join(work, "client_secret.json")
        with open(self.secret_file, "w") as f:
            json.dump(
                {
                    "web": {
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "redirect_uris": [f"{self.app}/oauth2callback"],
                    }
                },
                f,
            )
        self.app_proc = self.serve(app_port, "app.log")
        self.app_pids = [("app", self.app_proc.pid)]

    def spawn(self, cmd, log, **kw):
        p = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=open(log, "w"), **kw
        )
        self.procs.append(p)
        return p

    def serve(self, port, log_name):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "APP_BASE_URL": self.app,
            "BIND": f"127.0.0.1:{port}",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "bench-secret-key-" + "x" * 64,
            "GOOGLE_CLIENT_SECRET_FILE": self.secret_file,
            "GOOGLE_ISSUER": self.emu,
            "GOOGLE_API_BASE": self.emu,
            "ADMIN_EMAILS": "admin@example.test",
            # Every sign-in and mobile exchange of the run comes from 127.0.0.1.
            "SIGN_IN_RATE_PER_MINUTE": "100000000",
            "AUTHCODE_RATE_PER_MINUTE": "100000000",
            "RUST_LOG": "warn",
        }
        log = os.path.join(self.work, log_name)
        p = self.spawn([os.path.join(self.bin, "offline-access"), "serve"], log, env=env, cwd=self.work)
        wait_for(f"http://127.0.0.1:{port}/healthz", p, log)
        return p

    def both(self):
        return self.app_pids + [("emu", self.emu_proc.pid)]

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def log_problems(self):
        """Lines of the app's logs at ERROR or WARN, counted (and the first few shown)."""
        out = []
        for name in sorted(os.listdir(self.work)):
            if not (name.startswith("app") and name.endswith(".log")):
                continue
            with open(os.path.join(self.work, name), errors="replace") as f:
                lines = f.read().splitlines()
            bad = [l for l in lines if re.search(r"\b(ERROR|WARN)\b", l)]
            out.append((name, len(lines), bad))
        return out


def section_memory(s, idle):
    print(f"### Memory and database size per session ({s.backend})\n")
    print(
        f"Whole sign-ins by the driver ({SIGN_IN_CONCURRENCY} at a time, over "
        f"{len(SIGN_IN_ACCOUNTS)} accounts, so the sessions belong to {len(SIGN_IN_ACCOUNTS)} users); "
        "RSS from the app's /proc/PID/status; database size: "
        + ("the SQLite file and its -wal." if s.backend == "SQLite" else "pg_total_relation_size('sessions').")
        + "\n"
    )
    rows = [("idle (after start)", 0, f"{idle:.1f} MiB", "–", "–", "–")]
    prev = None
    rss_at = {}
    for target_n in SESSIONS:
        stats = driver("db-stats", "database", s.database_url)
        need = target_n - stats["sessions"]
        took = "–"
        if need > 0:
            r = driver(
                "signins", "app", s.app, *account_flags(),
                "count", need, "concurrency", SIGN_IN_CONCURRENCY,
            )
            if r["failures"]:
                fail(f"{r['failures']} of {need} sign-ins failed: {r['error']}")
            took = f"{r['secs']:.1f} s ({r['rps']:.0f}/s)"
        time.sleep(1)
        stats = driver("db-stats", "database", s.database_url)
        rss = rss_mib(s.app_proc.pid)
        rss_at[target_n] = rss
        marginal = "–"
        if prev and stats["sessions"] > prev["sessions"]:
            marginal = f"{(stats['bytes'] - prev['bytes']) / (stats['sessions'] - prev['sessions']):.0f} B"
        rows.append(
            (
                f"{stats['sessions']:,} sessions",
                took,
                f"{rss:.1f} MiB",
                f"{stats['bytes'] / 2**20:.2f} MiB",
                f"{stats['bytes'] / max(stats['sessions'], 1):.0f} B",
                marginal,
            )
        )
        prev = stats
    table(
        ["state", "sign-ins to get there", "app RSS", "database size", "size / session", "added per session"],
        rows,
    )
    top = SESSIONS[-1]
    target(s.backend, f"RSS at {top:,} sessions", f"{rss_at[top]:.1f} MiB", "≤ 50 MB (47.7 MiB)",
           rss_at[top] <= 50 * MB)


def account_flags():
    flags = []
    for a in SIGN_IN_ACCOUNTS:
        flags += ["account", a]
    return flags


def home_page_check(s, cookie):
    status, page = fetch(f"{s.app}/", cookie)
    if status != 200 or page.count('data-testid="file"') != 25:
        fail(f"the signed-in page answered {status} and does not list 25 files; see {s.work}")


def section_home(s, cookie, baseline_database):
    token = access_token(s.emu, "alice@example.test")
    home_page_check(s, cookie)
    floor_url = f"{s.emu}/drive/v3/files?" + urllib.parse.urlencode(
        {"pageSize": 25, "orderBy": "modifiedTime desc", "fields": FIELDS}
    )
    base = None
    if BASELINE:
        work = os.path.join(s.work, "baseline")
        os.mkdir(work)
        base = Stack(s.backend, work, baseline_database(work), BASELINE_BIN)
    try:
        if base:
            base_cookie = sign_in(base.app, "alice@example.test")
            home_page_check(base, base_cookie)
        rows, base_rows = [], []
        for c in (1, 64):
            floor_runs, app_runs, base_runs = [], [], []
            # The floor, then (with a baseline) the baseline's page and this build's, each first in
            # half of the runs (an even number of them): whichever goes second runs a little
            # slower (seen with two copies of one build), so the order must not favour either.
            runs = RUNS + RUNS % 2 if base else RUNS
            for i in range(runs):
                floor_runs.append(wrk(floor_url, c, [f"Authorization: Bearer {token}"], [("emu", s.emu_proc.pid)]))
                mine = lambda: app_runs.append(wrk(f"{s.app}/", c, [f"Cookie: {cookie}"], s.both()))
                theirs = lambda: base_runs.append(
                    wrk(f"{base.app}/", c, [f"Cookie: {base_cookie}"], base.both()))
                order = (theirs, mine) if i % 2 == 0 else (mine, theirs)
                for measure in order if base else (mine,):
                    measure()
            rows.append((c, median_of(floor_runs), median_of(app_runs)))
            if base:
                base_rows.append((c, rows[-1][1], median_of(base_runs), rows[-1][2]))
    finally:
        if base:
            base.stop()
    print(f"### Signed-in `GET /` beside its floor ({s.backend})\n")
    print("Floor: the same Drive files.list (pageSize=25, same fields) asked of the emulator with "
          "alice's access token. `wrk`, medians of the runs.\n")
    table(
        ["c", "floor req/s", "floor p50", "floor p99", "emulator CPU/req", "app req/s", "app/floor",
         "app p50", "app p99", "app − floor p50", "app CPU/req", "emulator CPU/req (app run)", "failures"],
        [
            (c, f"{f['rps']:.0f}", ms(f["p50"]), ms(f["p99"]), ms(f["emu_cpu_ms"]), f"{a['rps']:.0f}",
             ratio(a["rps"], f["rps"]), ms(a["p50"]), ms(a["p99"]), ms(a["p50"] - f["p50"]),
             ms(a["app_cpu_ms"]), ms(a["emu_cpu_ms"]), a["failures"] + f["failures"])
            for c, f, a in rows
        ],
    )
    if base:
        section_home_baseline(s, base, base_rows)
    by_c = {c: (f, a) for c, f, a in rows}
    f1, a1 = by_c[1]
    f64, a64 = by_c[64]
    target(s.backend, "GET / app overhead at p50, c=1", ms(a1["p50"] - f1["p50"]), "≤ 0.3 ms",
           a1["p50"] - f1["p50"] <= 0.3)
    target(s.backend, "GET / throughput at c=64", f"{ratio(a64['rps'], f64['rps'])} floor", "≥ 0.5× floor",
           a64["rps"] >= 0.5 * f64["rps"])
    worst = max(a1["app_cpu_ms"], a64["app_cpu_ms"])
    target(s.backend, "app CPU per signed-in view (c=1 / c=64)",
           f"{a1['app_cpu_ms']:.3f} / {a64['app_cpu_ms']:.3f} ms", "≤ 0.15 ms", worst <= 0.15)


def section_home_baseline(s, base, rows):
    print(f"### Signed-in `GET /`, baseline beside this build ({s.backend})\n")
    print(f"Baseline: the app in `BENCH_BASELINE_BIN` ({BASELINE}), with a database of its own "
          "and an emulator of its own of this build's (so both apps meet the same upstream), alice "
          "signed in on each. In each of the runs, the floor (this build's "
          "emulator), then the baseline's `GET /` and this build's, each first in half of the runs "
          "(an even number), so neither the order nor drift favours either; `wrk`, "
          "medians of the runs.\n")
    table(
        ["c", "", "req/s", "/floor", "p50", "p99", "app − floor p50", "app CPU/req", "emulator CPU/req",
         "failures"],
        [
            (c, what, f"{r['rps']:.0f}", ratio(r["rps"], f["rps"]) if what != "floor" else "1",
             ms(r["p50"]), ms(r["p99"]), ms(r["p50"] - f["p50"]) if what != "floor" else "–",
             ms(r["app_cpu_ms"]) if what != "floor" else "–", ms(r["emu_cpu_ms"]), r["failures"])
            for c, f, b, a in rows
            for what, r in (("floor", f), ("baseline", b), ("this build", a))
        ],
    )
    for c, _, b, a in rows:
        print(f"- c={c}: app CPU per request {ms(b['app_cpu_ms'])} (baseline) → {ms(a['app_cpu_ms'])} "
              f"(this build), {ratio(a['app_cpu_ms'], b['app_cpu_ms'])}")
    print()
    for name, n, bad in base.log_problems():
        print(f"Baseline app log `{name}`: {n} lines, {len(bad)} at ERROR or WARN.")
    print()


def section_gmail(s):
    cookie = sign_in(s.app, "alice@example.test", grant="gmail")
    status, page = fetch(f"{s.app}/gmail", cookie)
    if status != 200 or page.count('data-testid="message"') != 25:
        fail(f"/gmail answered {status} and does not list 25 messages; see {s.work}")
    token = access_token(s.emu, "alice@example.test", GMAIL)
    rows = []
    for c in (1, 16):
        floor_runs, app_runs = [], []
        for _ in range(RUNS):
            floor_runs.append(
                driver("gmail-floor", "emulator", s.emu, "token", token, "secs", SECS,
                       "concurrency", c, pids=[("emu", s.emu_proc.pid)])
            )
            app_runs.append(wrk(f"{s.app}/gmail", c, [f"Cookie: {cookie}"], s.both()))
        rows.append((c, median_of(floor_runs), median_of(app_runs)))
    print(f"### `/gmail` beside its floor ({s.backend})\n")
    print("Each page: 1 messages.list (25) + 25 messages.get (format=metadata), at most 8 at a time. "
          "Floor: the same 26 calls made by the driver with the app's own Gmail client and the same "
          "bound of 8 (its CPU is the driver's, not counted). App: `wrk`.\n")
    table(
        ["c", "floor pages/s", "floor p50", "floor p99", "emulator CPU/page", "app pages/s", "app/floor",
         "app p50", "app p99", "app − floor p50", "app CPU/page", "failures"],
        [
            (c, f"{f['rps']:.0f}", ms(f["p50"]), ms(f["p99"]), ms(f["emu_cpu_ms"]), f"{a['rps']:.0f}",
             ratio(a["rps"], f["rps"]), ms(a["p50"]), ms(a["p99"]), ms(a["p50"] - f["p50"]),
             ms(a["app_cpu_ms"]), a["failures"] + f["failures"])
            for c, f, a in rows
        ],
    )


def section_signins(s):
    floor_runs, app_runs = [], []
    for _ in range(RUNS):
        floor_runs.append(
            driver("signins-floor", "emulator", s.emu, "client-id", CLIENT_ID, "client-secret", CLIENT_SECRET,
                   "redirect-uri", f"{s.app}/oauth2callback", *account_flags(), "secs", SECS,
                   "concurrency", SIGN_IN_CONCURRENCY, pids=[("emu", s.emu_proc.pid)])
        )
        app_runs.append(
            driver("signins", "app", s.app, *account_flags(), "secs", SECS,
                   "concurrency", SIGN_IN_CONCURRENCY, pids=s.both())
        )
    f, a = median_of(floor_runs), median_of(app_runs)
    print(f"### Whole sign-ins beside their floor ({s.backend})\n")
    print("App: a new browser each (the driver): `GET /oauth2callback` → the emulator's consent page → "
          "consent POST → the app's callback (code exchange, ID-token verification, rows, session) → "
          f"`GET /` (25 Drive files), {SIGN_IN_CONCURRENCY} at a time over {len(SIGN_IN_ACCOUNTS)} "
          "returning accounts. Floor: the same dance with the emulator alone, the driver acting as "
          "the client (authorize with state, nonce and PKCE, consent POST, code exchange at /token, "
          "the same files.list; the ID token is not verified).\n")
    table(
        ["", "per second", "ratio", "p50", "p99", "app CPU", "emulator CPU", "failures"],
        [
            ("floor (emulator alone)", f"{f['rps']:.0f}", "1", ms(f["p50"]), ms(f["p99"]), "–",
             ms(f["emu_cpu_ms"]), f["failures"]),
            ("app", f"{a['rps']:.0f}", ratio(a["rps"], f["rps"]), ms(a["p50"]), ms(a["p99"]),
             ms(a["app_cpu_ms"]), ms(a["emu_cpu_ms"]), a["failures"]),
        ],
    )
    for r in (f, a):
        if r["failures"]:
            print(f"first failure: {r['error']}\n")
    target(s.backend, "app CPU per sign-in", ms(a["app_cpu_ms"]), "≤ 0.5 ms", a["app_cpu_ms"] <= 0.5)
    target(s.backend, "sign-ins per second", f"{ratio(a['rps'], f['rps'])} floor", "≥ 0.5× floor",
           a["rps"] >= 0.5 * f["rps"])


def section_authcode(s):
    floor_runs, app_runs = [], []
    common = ("emulator", s.emu, "app-client-id", ANDROID_APP, *account_flags(), "count", AUTHCODES,
              "concurrency", SIGN_IN_CONCURRENCY)
    for _ in range(RUNS):
        floor_runs.append(
            driver("authcode-floor", *common, "client-id", CLIENT_ID, "client-secret", CLIENT_SECRET,
                   pids=[("emu", s.emu_proc.pid)])
        )
        app_runs.append(
            driver("authcode", *common, "app", s.app, "server-client-id", CLIENT_ID, pids=s.both())
        )
    f, a = median_of(floor_runs), median_of(app_runs)
    print(f"### `POST /authcode` beside its floor ({s.backend})\n")
    print(f"{AUTHCODES} serverAuthCodes a run, minted by the emulator's mobile sign-in (Android app "
          "client, Drive scope, the web client as server client) before the timed part; "
          f"{SIGN_IN_CONCURRENCY} at a time over {len(SIGN_IN_ACCOUNTS)} accounts. Floor: each code "
          "redeemed at the emulator's /token alone (`redirect_uri` empty).\n")
    table(
        ["", "per second", "ratio", "p50", "p99", "app CPU", "emulator CPU", "failures"],
        [
            ("floor (code exchange alone)", f"{f['rps']:.0f}", "1", ms(f["p50"]), ms(f["p99"]), "–",
             ms(f["emu_cpu_ms"]), f["failures"]),
            ("app `POST /authcode`", f"{a['rps']:.0f}", ratio(a["rps"], f["rps"]), ms(a["p50"]),
             ms(a["p99"]), ms(a["app_cpu_ms"]), ms(a["emu_cpu_ms"]), a["failures"]),
        ],
    )
    for r in (f, a):
        if r["failures"]:
            print(f"first failure: {r['error']}\n")


def section_admin(s):
    admin = sign_in(s.app, "admin@example.test")
    seeded = driver("seed-users", "database", s.database_url, "count", USERS, "client-id", CLIENT_ID,
                    "deep", USERS // 10)
    total = driver("db-stats", "database", s.database_url)["users"]
    # Matches user{search}0 … user{search}9: ten users in the middle of the list.
    search = f"user{USERS // 20:04d}"
    pages = [
        ("first page", "/admin/users"),
        (f"deep page (after {USERS - USERS // 10:,} users)",
         "/admin/users?" + urllib.parse.urlencode({"after": seeded["deep_after"]})),
        (f"search `{search}` (10 matches)", f"/admin/users?q={search}"),
    ]
    for what, path in pages:
        status, page = fetch(f"{s.app}{path}", admin)
        rows = page.count('data-testid="user-row"')
        want = 10 if "search" in what else 50
        if status != 200 or rows != want:
            fail(f"{path} answered {status} with {rows} rows (wanted {want}); see {s.work}")
    status, _ = fetch(f"{s.app}/healthz")
    if status != 200:
        fail(f"/healthz answered {status}")
    results = []
    for what, path in [("floor: `/healthz`", "/healthz")] + pages:
        runs = [
            wrk(f"{s.app}{path}", 1, [f"Cookie: {admin}"], s.app_pids)
            for _ in range(RUNS)
        ]
        results.append((what, path, median_of(runs)))
    print(f"### `/admin/users` at {total:,} users ({s.backend})\n")
    print(f"{seeded['seeded']:,} users seeded in the database in one transaction "
          f"({seeded['secs']:.1f} s) as the tests' `seed_users` makes them (then, on PostgreSQL, "
          "`VACUUM ANALYZE`, as autovacuum would after such a load); the admin signed in; "
          "`wrk` at c=1 with the admin's cookie. Floor: the app's `/healthz` (a database ping), "
          "the cheapest request that reaches the database.\n")
    table(
        ["page", "req/s", "p50", "p95", "p99", "app CPU/req", "failures"],
        [(what, f"{r['rps']:.0f}", ms(r["p50"]), ms(r["p95"]), ms(r["p99"]), ms(r["app_cpu_ms"]),
          r["failures"]) for what, _, r in results],
    )
    worst = max(r["p95"] for what, _, r in results[1:])
    target(s.backend, f"/admin/users p95 at {total:,} users (worst of 3)", ms(worst), "≤ 20 ms", worst <= 20)


def storm(s, cookie, urls, pids):
    post_json(f"{s.emu}/emulator/accounts/alice@example.test/expire-tokens", {})
    before = emu_count(s.emu, "token:refresh_token")
    flags = []
    for u in urls:
        flags += ["url", u]
    r = driver("get", *flags, "cookie", cookie, "count", STORM, "concurrency", STORM, pids=pids)
    time.sleep(0.2)
    return r, emu_count(s.emu, "token:refresh_token") - before


def section_storm(s, cookie):
    rows = []
    r, grants = storm(s, cookie, [f"{s.app}/"], s.app_pids)
    rows.append(("one instance", r, grants))
    target(s.backend, "refresh storm, one instance", f"{grants} refresh", "exactly 1", grants == 1)
    if s.backend == "PostgreSQL":
        port = free_port()
        second = s.serve(port, "app2.log")
        r, grants = storm(s, cookie, [f"{s.app}/", f"http://127.0.0.1:{port}/"],
                          s.app_pids + [("app", second.pid)])
        rows.append(("two instances, one database (100 requests each)", r, grants))
        target(s.backend, "refresh storm, two instances", f"{grants} refresh", "exactly 1", grants == 1)
    print(f"### Refresh storm ({s.backend})\n")
    print(f"{STORM} concurrent `GET /` of alice (one session) right after the emulator expired her "
          "access tokens; refresh_token grants counted by the emulator (`/emulator/requests`).\n")
    table(
        ["", "requests", "refresh_token grants", "wall time", "p50", "p99", "app CPU/req", "failures"],
        [(what, r["ops"], g, f"{r['secs'] * 1000:.0f} ms", ms(r["p50"]), ms(r["p99"]),
          ms(r["app_cpu_ms"]), r["failures"]) for what, r, g in rows],
    )


def run_backend(backend, database_url, work, baseline_database, note=None):
    """Every wanted section on one backend; `baseline_database(folder)` makes the baseline's
    database (with BENCH_BASELINE_BIN)."""
    print(f"## {backend}\n")
    if note:
        print(note + "\n")
    s = Stack(backend, work, database_url)
    try:
        time.sleep(1)
        idle = rss_mib(s.app_proc.pid)
        if wanted("memory"):
            section_memory(s, idle)
        alice = sign_in(s.app, "alice@example.test")
        sections = [
            ("home", lambda: section_home(s, alice, baseline_database)),
            ("gmail", lambda: section_gmail(s)),
            ("signins", lambda: section_signins(s)),
            ("authcode", lambda: section_authcode(s)),
            ("admin", lambda: section_admin(s)),
            ("storm", lambda: section_storm(s, alice)),
        ]
        for name, section in sections:
            if wanted(name):
                section()
                # wrk stops with requests in flight, which the app still completes: let them
                # end before the next section (the storm expires alice's tokens) or the stop.
                time.sleep(0.5)
        print(f"App RSS at the end: {rss_mib(s.app_proc.pid):.1f} MiB; emulator RSS "
              f"{rss_mib(s.emu_proc.pid):.1f} MiB.\n")
    finally:
        s.stop()
    for name, n, bad in s.log_problems():
        errors = [l for l in bad if "ERROR" in l]
        print(f"App log `{name}`: {n} lines, {len(errors)} at ERROR, {len(bad) - len(errors)} at WARN.")
        for l in bad[:5]:
            print(f"    {l[:300]}")
    print()


def copy_binaries(source, dest, names=BINARIES):
    """The app and the emulator (`names`) copied from `source` into `dest`, so that every
    process of the run is the same build even if target/ is rebuilt meanwhile; `dest`."""
    os.mkdir(dest)
    for name in names:
        path = os.path.join(source, name)
        if not os.access(path, os.X_OK):
            fail(f"{path} is not an executable")
        shutil.copy2(path, dest)
    return dest


def header():
    cores = os.cpu_count()
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    if dirty:
        commit += f" (plus uncommitted changes to {len(dirty.splitlines())} files)"
    print("# bench/run\n")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"- machine: {cores} cores ({model}), {mem} memory, {platform.system()} {platform.release()}")
    print(f"- commit: {commit}")
    print(f"- release build; app and emulator as separate processes on loopback; {RUNS} runs of "
          f"{SECS:g} s each (medians); backends: SQLite" + (", PostgreSQL" if PG_ADMIN else ""))
    if BASELINE:
        print(f"- baseline for the signed-in page: the app in {BASELINE}, with this build's emulator")
    print()


def main():
    for w in ONLY:
        if w not in SECTIONS:
            fail(f"BENCH_ONLY: {w!r} is not one of {', '.join(SECTIONS)}")
    if not DRIVER or not os.path.exists(DRIVER):
        fail("BENCH_DRIVER must name the driver (bench/driver/); start bench/run, not this file")
    global BIN, BASELINE_BIN
    started = time.time()
    work = tempfile.mkdtemp(prefix="oa-bench-")
    BIN = copy_binaries(RELEASE, os.path.join(work, "bin"))
    if BASELINE:
        # The baseline's app, with this build's emulator: both apps meet the same upstream, so
        # the comparison is of the apps alone.
        BASELINE_BIN = copy_binaries(BASELINE, os.path.join(work, "bin-baseline"), ("offline-access",))
        shutil.copy2(os.path.join(BIN, "google-emulator"), BASELINE_BIN)
    header()
    sqlite_dir = os.path.join(work, "sqlite")
    os.mkdir(sqlite_dir)
    run_backend("SQLite", f"sqlite://{sqlite_dir}/app.db", sqlite_dir,
                lambda folder: f"sqlite://{folder}/app.db")
    if PG_ADMIN:
        names = []

        def pg_database(suffix=""):
            names.append(f"bench_{os.getpid()}_{random.randrange(16**6):06x}{suffix}")
            return driver("pg-create", "admin", PG_ADMIN, "name", names[-1])

        try:
            pg = pg_database()
            note = (f"PostgreSQL {pg['server_version']} on the same machine, a fresh database "
                    f"({names[0]}) dropped after the run; the server's CPU is in no column.")
            pg_dir = os.path.join(work, "postgres")
            os.mkdir(pg_dir)
            run_backend("PostgreSQL", pg["url"], pg_dir, lambda _: pg_database("_baseline")["url"], note)
        finally:
            for name in names:
                driver("pg-drop", "admin", PG_ADMIN, "name", name)
    print("## Targets\n")
    table(
        ["backend", "figure", "measured", "target", ""],
        [(b, w, f, g, "met" if m else "**missed**") for b, w, f, g, m in TARGETS],
    )
    print(f"bench/run took {time.time() - started:.0f} s; logs in {work}")


if __name__ == "__main__":
    main()
