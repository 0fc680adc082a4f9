"""The signed-in page measured beside its floor, app and emulator as separate processes.

Started by `bench/run` after the release build. Everything runs on loopback: the Google
emulator (`google-emulator`), the app (`offline-access serve`, SQLite) pointed at it as a
configured provider, a real sign-in through the consent form, then `wrk` against

- the floor: the same Drive files.list the app makes (pageSize=25, same fields), asked of the
  emulator directly with the user's access token;
- the app's signed-in `GET /` (one files.list upstream),

at concurrency 1 and 64. Each figure is the median of RUNS runs. The app's CPU per request is
read from its own /proc/PID/stat (utime + stime), so it is the app's alone.
"""

import http.cookiejar
import json
import os
import re
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
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECS = int(os.environ.get("BENCH_SECS", "5"))
CLIENT_ID = "bench.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-bench-secret"
FIELDS = "nextPageToken,files(id,name,mimeType,modifiedTime)"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url} did not answer")


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


def wrk(url, connections, headers):
    threads = min(connections, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECS}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "requests": requests,
        "rps": rps,
        "p50": pct(50),
        "p99": pct(99),
        "errors": int(errors.group(1)) if errors else 0,
    }


def main():
    work = tempfile.mkdtemp(prefix="oa-bench-")
    emu_port, app_port = free_port(), free_port()
    emu = f"http://127.0.0.1:{emu_port}"
    app = f"http://127.0.0.1:{app_port}"
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                [os.path.join(RELEASE, "google-emulator"), "--bind", f"127.0.0.1:{emu_port}"],
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(work, "emulator.log"), "w"),
            )
        )
        wait_for(f"{emu}/.well-known/openid-configuration")
        post_json(
            f"{emu}/emulator/clients",
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "kind": "web",
                "redirect_uris": [f"{app}/oauth2callback"],
            },
        )
        secret_file = os.path.join(work, "client_secret.json")
        with open(secret_file, "w") as f:
            json.dump(
                {
                    "web": {
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "redirect_uris": [f"{app}/oauth2callback"],
                    }
                },
                f,
            )
        env = {
            "PATH": os.environ.get("PATH", ""),
            "APP_BASE_URL": app,
            "BIND": f"127.0.0.1:{app_port}",
            "DATABASE_URL": f"sqlite://{work}/app.db",
            "SECRET_KEY": "bench-secret-key-" + "x" * 64,
            "GOOGLE_CLIENT_SECRET_FILE": secret_file,
            "GOOGLE_ISSUER": emu,
            "GOOGLE_API_BASE": emu,
            "RUST_LOG": "warn",
        }
        app_proc = subprocess.Popen(
            [os.path.join(RELEASE, "offline-access"), "serve"],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "app.log"), "w"),
        )
        procs.append(app_proc)
        wait_for(f"{app}/healthz")
        cookie = sign_in(app, emu, "alice@example.test")
        token = access_token(emu, "alice@example.test")
        page = urllib.request.urlopen(
            urllib.request.Request(f"{app}/", headers={"Cookie": cookie})
        ).read().decode()
        if page.count('data-testid="file"') != 25:
            sys.exit("the signed-in page does not list 25 files; see " + work)
        floor_url = f"{emu}/drive/v3/files?" + urllib.parse.urlencode(
            {"pageSize": 25, "orderBy": "modifiedTime desc", "fields": FIELDS}
        )
        print(f"bench: {RUNS} runs of {SECS} s each, release build, loopback, app on SQLite")
        print(f"app RSS after sign-in: {rss_mib(app_proc.pid):.1f} MiB")
        rows = []
        for c in (1, 64):
            floor_runs, app_runs = [], []
            for _ in range(RUNS):
                floor_runs.append(wrk(floor_url, c, [f"Authorization: Bearer {token}"]))
                before = cpu_seconds(app_proc.pid)
                r = wrk(f"{app}/", c, [f"Cookie: {cookie}"])
                r["cpu_ms"] = (cpu_seconds(app_proc.pid) - before) * 1000 / r["requests"]
                app_runs.append(r)
            rows.append((c, median_of(floor_runs), median_of(app_runs)))
        print()
        print("| c | floor req/s | floor p50 | floor p99 | app req/s | app p50 | app p99 | app − floor p50 | app CPU/req | non-2xx |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for c, f, a in rows:
            print(
                f"| {c} | {f['rps']:.0f} | {f['p50']:.3f} ms | {f['p99']:.3f} ms | {a['rps']:.0f} "
                f"| {a['p50']:.3f} ms | {a['p99']:.3f} ms | {a['p50'] - f['p50']:.3f} ms "
                f"| {a['cpu_ms']:.3f} ms | {a['errors'] + f['errors']} |"
            )
        print(f"\napp RSS at the end: {rss_mib(app_proc.pid):.1f} MiB")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def post_json(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    return json.load(urllib.request.urlopen(req))


def sign_in(app, emu, account):
    """A browser's sign-in: the app's redirect, the consent form, back to the app."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    def location(url, data=None):
        try:
            opener.open(url, data=data)
        except urllib.error.HTTPError as e:
            if e.code in (301, 302, 303, 307):
                return urllib.parse.urljoin(url, e.headers["Location"])
            raise
        sys.exit(f"{url} did not redirect")

    auth = location(f"{app}/oauth2callback")
    page = opener.open(auth).read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    query = urllib.parse.parse_qsl(urllib.parse.urlparse(auth).query)
    scopes = dict(query)["scope"].split()
    form = query + [("csrf_token", csrf), ("account", account), ("action", "allow")]
    form += [("granted_scope", s) for s in scopes if s not in ("openid", "email", "profile")]
    back = location(f"{emu}{urllib.parse.urlparse(auth).path}", urllib.parse.urlencode(form).encode())
    location(back)
    session = [c for c in jar if c.name == "oa_session"]
    if not session:
        sys.exit("the sign-in did not set a session cookie")
    return f"oa_session={session[0].value}"


def access_token(emu, email):
    state = json.load(urllib.request.urlopen(f"{emu}/emulator/state"))
    tokens = [t for t in state["access_tokens"] if t.get("email") == email]
    if not tokens:
        sys.exit(f"no access token for {email} in the emulator's state")
    return tokens[-1]["token"]


if __name__ == "__main__":
    main()
