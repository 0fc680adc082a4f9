"""Google's own Python client libraries against the emulator, with nothing changed but endpoint
URLs: google-auth-oauthlib's Flow (authorization URL, PKCE, code exchange), google-auth's ID-token
verification and refresh, and google-api-python-client's Drive service.

Usage: google_clients.py EMULATOR_ORIGIN CLIENT_ID CLIENT_SECRET REDIRECT_URI
Prints one line per check and exits non-zero on the first failure. The consent screen is not
walked here: the script prints `AUTHORIZE <url>` and reads the redirect back from stdin (the
Rust test, tests/http/client_libraries.rs, walks it with the crate's consent walker).
"""

import os
import sys
import urllib.parse

import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build

# The emulator speaks plain http on loopback; oauthlib refuses http unless told otherwise.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
# Google grants full scope URLs for the openid/email/profile shorthands, as the emulator does.
os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"

EMU, CLIENT_ID, CLIENT_SECRET, REDIRECT = sys.argv[1:5]
DRIVE = "https://www.googleapis.com/auth/drive.metadata.readonly"


def check(label, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + label + (f": {detail}" if detail and not ok else ""))
    if not ok:
        sys.exit(1)


client_config = {
    "web": {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "auth_uri": f"{EMU}/o/oauth2/v2/auth",
        "token_uri": f"{EMU}/token",
        "redirect_uris": [REDIRECT],
    }
}
flow = Flow.from_client_config(
    client_config, scopes=["openid", "email", "profile", DRIVE], redirect_uri=REDIRECT
)
auth_url, state = flow.authorization_url(
    access_type="offline", include_granted_scopes="true", prompt="consent"
)
check("authorization URL points at the emulator", auth_url.startswith(f"{EMU}/o/oauth2/v2/auth"))

# The person on the consent screen is the test that runs this script: it walks the account
# chooser and consent form at this URL and answers with where the emulator sent the browser.
print(f"AUTHORIZE {auth_url}", flush=True)
back = sys.stdin.readline().strip()
check("consent redirects back", back.startswith(REDIRECT), back)
check("state comes back", dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["state"] == state)

flow.fetch_token(authorization_response=back)
creds = flow.credentials
check("code exchange gives an access token", bool(creds.token))
check("and a refresh token (first consent, offline)", bool(creds.refresh_token))

# Google's v1 certificate format (PEM X.509), which google-auth verifies with by default.
claims = id_token.verify_token(
    creds.id_token, Request(), audience=CLIENT_ID, certs_url=f"{EMU}/oauth2/v1/certs"
)
check("ID token verifies with the emulator's certs", claims["email"] == "alice@example.test", claims)
check("ID token issuer is the emulator", claims["iss"] == EMU, claims.get("iss"))

drive = build(
    "drive",
    "v3",
    credentials=creds,
    client_options={"api_endpoint": f"{EMU}/drive/v3/"},
    static_discovery=True,
)
names, token = [], None
while True:
    page = drive.files().list(pageSize=100, pageToken=token, fields="nextPageToken, files(id, name)").execute()
    names += [f["name"] for f in page["files"]]
    token = page.get("nextPageToken")
    if not token:
        break
check("Drive files().list pages through every file once", len(names) == len(set(names)) > 250, len(names))

old = creds.token
creds.refresh(Request())
check("google-auth refreshes the access token", creds.token and creds.token != old)
check("the refreshed token works", "files" in drive.files().list(pageSize=1).execute())

revoked = requests.post(f"{EMU}/revoke", params={"token": creds.token})
check("revoke answers 200", revoked.status_code == 200, revoked.text)
# The client library meets the 401, tries its refresh token, and learns the grant is gone.
try:
    drive.files().list(pageSize=1).execute()
    check("a revoked grant is refused", False)
except RefreshError as e:
    check("a revoked grant: 401, then invalid_grant on refresh", "invalid_grant" in str(e), e)
print("google client libraries: all checks passed")
