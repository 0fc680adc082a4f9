"""The soak's traffic (Python's standard library only), run by scripts/soak.

Worker threads send a mix for --secs seconds: signed-in page views (Drive, Gmail, account),
admin pages, whole sign-ins in new browsers (by the bench driver, which walks the consent
screen) followed by sign-out, sign-ins started and never
finished, mobile /authcode exchanges, bad input (garbage queries, tampered cookies, unknown paths,
wrong methods) and health probes; every 30 s every access token expires, so refreshes run too.
Once a minute it prints the app's and the emulator's resident memory and open file descriptors.
Any answer of 500 or more, or a failed flow, is counted and shown at the end.
"""

import argparse
import http.cookiejar
import json
import os
import random
import re
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ACCOUNTS = ["alice@example.test", "bob@example.test", "admin@example.test"]
ANDROID = "100000000001-emulatorandroid.apps.googleusercontent.com"
DRIVE = "https://www.googleapis.com/auth/drive.metadata.readonly"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie jar that does not follow redirects, as the tests' clients."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect
        )

    def set_cookie(self, header, host="127.0.0.1"):
        """Takes `name=value` (what the driver's sign-in prints) into the jar."""
        name, value = header.split("=", 1)
        self.jar.set_cookie(http.cookiejar.Cookie(
            0, name, value, None, False, host, False, False, "/", True, False,
            None, False, None, None, {}))

    def request(self, method, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")

    def get(self, url):
        return self.request("GET", url)

    def post_form(self, url, fields):
        body = urllib.parse.urlencode(fields).encode()
        return self.request(
            "POST", url, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )


def hidden(html, name):
    """The value of the first input named `name` (its other attributes in any order)."""
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag:
            m = re.search(r'value="([^"]*)"', tag)
            return m.group(1) if m else None
    return None


class Soak:
    def __init__(self, args):
        self.args = args
        self.app = args.app
        self.emu = args.emulator
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []
        self.sessions = []  # (account, Browser)

    def count(self, what, status):
        with self.lock:
            key = f"{what} {status}"
            self.counts[key] = self.counts.get(key, 0) + 1
            if status >= 500 or status == 0:
                self.failures.append(key)

    def control(self, path, body):
        req = urllib.request.Request(
            self.emu + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def sign_in(self, account, grant=None):
        """A whole sign-in in a new browser, by the bench driver (the one walker of the
        consent screen); returns a Browser holding its session."""
        command = [self.args.driver, "sign-in", "--app", self.app, "--account", account]
        if grant:
            command += ["--grant", grant]
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        self.count("sign-in" + (f" with the {grant} grant" if grant else ""),
                   303 if out.returncode == 0 else 0)
        if out.returncode != 0:
            raise RuntimeError(f"sign-in failed: {out.stderr.strip()[:200]}")
        b = Browser()
        b.set_cookie(json.loads(out.stdout)["cookie"])
        return b

    # One step of each kind.

    def page_view(self):
        account, b = random.choice(self.sessions)
        path = random.choice(["/", "/", "/", "/gmail", "/account", "/?page=abc"])
        if account == "admin@example.test" and random.random() < 0.3:
            path = random.choice(["/admin/users", "/admin/users?q=ali", "/admin/audit"])
        status, _, _ = b.get(self.app + path)
        self.count("GET " + path, status)

    def sign_in_and_out(self):
        account = random.choice(ACCOUNTS)
        b = self.sign_in(account)
        status, _, html = b.get(self.app + "/")
        self.count("GET / after sign-in", status)
        csrf = hidden(html, "csrf")
        status, _, _ = b.post_form(self.app + "/logout", [("csrf", csrf or "")])
        self.count("POST /logout", status)

    def abandoned_sign_in(self):
        status, _, _ = Browser().get(self.app + "/oauth2callback")
        self.count("sign-in start, abandoned", status)

    def authcode(self):
        minted = self.control(
            "/emulator/mobile-sign-in",
            {
                "account": random.choice(ACCOUNTS),
                "client_id": ANDROID,
                "server_client_id": self.args.web_client,
                "scopes": [DRIVE],
            },
        )
        status, _, _ = Browser().request(
            "POST",
            self.app + "/authcode",
            urllib.parse.urlencode({"authCode": minted["server_auth_code"]}).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Requested-With": "com.example.soak",
            },
        )
        self.count("POST /authcode", status)

    def bad_input(self):
        b = Browser()
        kind = random.randrange(5)
        if kind == 0:
            path = "/oauth2callback?code=x&state=%ff%fe&error=%3Cb%3E"
            status, _, _ = b.get(self.app + path)
        elif kind == 1:
            status, _, _ = b.request(
                "GET", self.app + "/", headers={"Cookie": "id=" + "A" * 200}
            )
        elif kind == 2:
            status, _, _ = b.get(self.app + "/no/such/page")
        elif kind == 3:
            status, _, _ = b.request("DELETE", self.app + "/account")
        else:
            status, _, _ = b.request(
                "POST",
                self.app + "/authcode",
                b"{not json",
                {"Content-Type": "application/json", "X-Requested-With": "x"},
            )
        self.count(f"bad input {kind}", status)

    def healthz(self):
        status, _, _ = Browser().get(self.app + "/healthz")
        self.count("GET /healthz", status)

    def step(self):
        r = random.random()
        try:
            if r < 0.60:
                self.page_view()
            elif r < 0.67:
                self.sign_in_and_out()
            elif r < 0.75:
                self.abandoned_sign_in()
            elif r < 0.80:
                self.authcode()
            elif r < 0.95:
                self.bad_input()
            else:
                self.healthz()
        except Exception as e:  # a failed flow (timeout, refused connection, bad answer)
            self.count(f"failed flow: {type(e).__name__}: {e}"[:120], 0)

    def worker(self, until):
        while time.monotonic() < until:
            self.step()


def proc(pid):
    """(resident MiB, open file descriptors) of a process."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def sessions_in(db):
    if db.startswith("postgres"):
        return None
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM sessions").fetchone()[0]
    finally:
        con.close()


def report(label, args):
    app_rss, app_fds = proc(args.app_pid)
    emu_rss, emu_fds = proc(args.emulator_pid)
    rows = sessions_in(args.db)
    print(
        f"{label:>8}: app RSS {app_rss:6.1f} MiB, {app_fds:3} fds | "
        f"emulator RSS {emu_rss:6.1f} MiB, {emu_fds:3} fds"
        + ("" if rows is None else f" | {rows} session rows"),
        flush=True,
    )
    return app_rss, app_fds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--app", required=True)
    p.add_argument("--emulator", required=True)
    p.add_argument("--app-pid", type=int, required=True)
    p.add_argument("--emulator-pid", type=int, required=True)
    p.add_argument("--secs", type=int, default=600)
    p.add_argument("--web-client", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--driver", required=True, help="the bench driver (cargo example bench-driver)")
    args = p.parse_args()
    random.seed(1)

    soak = Soak(args)
    for account in ACCOUNTS:
        for i in range(4):
            b = soak.sign_in(account, grant="gmail" if i == 3 else None)
            soak.sessions.append((account, b))
    # Warm up every path once before the first reading.
    for _ in range(200):
        soak.step()
    start = report("start", args)

    started = time.monotonic()
    until = started + args.secs
    threads = [
        threading.Thread(target=soak.worker, args=(until,), daemon=True)
        for _ in range(args.threads)
    ]
    for t in threads:
        t.start()
    next_report, next_expiry = started + 60, started + 30
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        now = time.monotonic()
        if now >= next_expiry:
            for account in ACCOUNTS:
                soak.control(f"/emulator/accounts/{account}/expire-tokens", {})
            next_expiry += 30
        if now >= next_report and now < until:
            report(f"{int((now - started) // 60)} min", args)
            next_report += 60
    for t in threads:
        t.join()
    end = report("end", args)

    total = sum(soak.counts.values())
    print(f"{total} requests/flows in {args.secs} s ({total / args.secs:.0f}/s), {args.threads} threads")
    for key in sorted(soak.counts):
        print(f"  {soak.counts[key]:7}  {key}")
    print(
        f"app RSS {start[0]:.1f} -> {end[0]:.1f} MiB, fds {start[1]} -> {end[1]}; "
        f"{len(soak.failures)} answers >= 500 or failed flows"
    )
    if soak.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
