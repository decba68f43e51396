"""The hosted UI stand-in of the local page gateway (local_aws/hosted_sign_in.py), over HTTP as the
page (web/auth.js) and a browser use it: the authorization code grant with PKCE S256 against a real
moto user pool, from the sign-in form to an access token the gateway's JWT check lets through.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.parse
from html.parser import HTMLParser

import pytest

from adjust_fixtures import aws, client  # noqa: F401 (fixtures)
from page_gateway_fixtures import NEW_USER, PASSWORD, TEMPORARY_PASSWORD, USER, page  # noqa: F401 (page: fixture)

pytestmark = pytest.mark.usefixtures("aws")

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class _Form(HTMLParser):
    """The first form of a page: its action, its inputs' values, its labels' targets, its text."""

    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields, self.labels, self.text = None, {}, set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attrs.get("action")
        elif tag == "input":
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "label":
            self.labels.add(attrs.get("for"))

    def handle_data(self, data):
        self.text.append(data)


def parsed(body: bytes) -> _Form:
    form = _Form()
    form.feed(body.decode())
    form.text = " ".join(" ".join(form.text).split())
    return form


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_query(page, challenge: str, **changes) -> str:
    query = {"client_id": page.client_id, "response_type": "code", "redirect_uri": page.origin + "/",
             "scope": "openid email", "state": "state-123", "code_challenge": challenge,
             "code_challenge_method": "S256", **changes}
    return urllib.parse.urlencode({name: value for name, value in query.items() if value is not None})


def sign_in(page, challenge: str, *, username: str = USER, password: str = PASSWORD):
    """The form, filled in and posted: the answer to the POST."""
    status, _, body = page.call("GET", f"/oauth2/authorize?{authorize_query(page, challenge)}")
    assert status == 200
    form = parsed(body)
    fields = {**form.fields, "username": username, "password": password}
    return page.call("POST", form.action, headers=FORM, body=urllib.parse.urlencode(fields).encode())


def code_from(location: str, page) -> str:
    parts = urllib.parse.urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == page.origin + "/"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query["state"] == "state-123"
    return query["code"]


def exchange(page, issued_code: str, verifier: str, **changes):
    fields = {"grant_type": "authorization_code", "client_id": page.client_id, "code": issued_code,
              "redirect_uri": page.origin + "/", "code_verifier": verifier, **changes}
    status, headers, body = page.call("POST", "/oauth2/token", headers=FORM, body=urllib.parse.urlencode(fields).encode())
    return status, headers, json.loads(body)


def test_the_form_is_labelled_and_says_what_it_stands_for(page):
    _, challenge = pkce()
    status, headers, body = page.call("GET", f"/oauth2/authorize?{authorize_query(page, challenge)}")
    form = parsed(body)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert form.action == "/login" and {"username", "password"} <= form.labels
    assert "stand-in for Cognito's hosted sign-in page" in form.text
    assert f"return to {page.origin}/, which stands here for the app client's callback URL" in form.text
    assert "<script" not in body.decode()
    assert form.fields["state"] == "state-123" and form.fields["code_challenge"] == challenge


def test_the_code_grant_with_pkce_gives_tokens_the_api_accepts(page):
    verifier, challenge = pkce()
    status, headers, _ = sign_in(page, challenge)
    assert status == 302
    code = code_from(headers["location"], page)
    status, headers, tokens = exchange(page, code, verifier)
    assert status == 200 and headers["cache-control"] == "no-store"
    assert set(tokens) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert (tokens["token_type"], tokens["expires_in"]) == ("Bearer", 3600)
    status, _, body = page.call("GET", "/api/search?q=horse", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert status == 200
    assert json.loads(body)["requestContext"]["authorizer"]["jwt"]["claims"]["client_id"] == page.client_id
    # A code is good once.
    assert exchange(page, code, verifier)[::2] == (400, {"error": "invalid_grant"})


def test_a_wrong_verifier_gets_invalid_grant_and_spends_the_code(page):
    verifier, challenge = pkce()
    code = code_from(sign_in(page, challenge)[1]["location"], page)
    assert exchange(page, code, pkce()[0])[::2] == (400, {"error": "invalid_grant"})
    assert exchange(page, code, verifier)[::2] == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("change", [{"redirect_uri": "https://d111.cloudfront.net/"}, {"code": "made-up"},
                                    {"grant_type": "password"}, {"client_id": "another-client"}])
def test_a_token_request_that_does_not_match_its_code_is_refused(page, change):
    verifier, challenge = pkce()
    code = code_from(sign_in(page, challenge)[1]["location"], page)
    status, _, answer = exchange(page, code, verifier, **change)
    expected = {"grant_type": "unsupported_grant_type", "client_id": "invalid_client"}.get(next(iter(change)),
                                                                                           "invalid_grant")
    assert (status, answer) == (400, {"error": expected})


def test_a_wrong_password_shows_the_form_again_with_cognitos_message(page):
    _, challenge = pkce()
    for username, password in ((USER, "Wrong-Password-1!"), ("nobody@example.com", PASSWORD)):
        status, _, body = sign_in(page, challenge, username=username, password=password)
        form = parsed(body)
        assert status == 400 and "Incorrect username or password." in form.text
        assert form.action == "/login" and form.fields["username"] == username and form.fields["password"] == ""


def test_a_temporary_password_is_changed_before_the_code_is_given(page):
    verifier, challenge = pkce()
    status, _, body = sign_in(page, challenge, username=NEW_USER, password=TEMPORARY_PASSWORD)
    form = parsed(body)
    assert status == 200 and {"new_password", "confirm_password"} <= form.labels and form.fields["session"]
    mismatched = {**form.fields, "new_password": "Brand-New-Pass-2!", "confirm_password": "Other-Pass-3!"}
    status, _, body = page.call("POST", "/login", headers=FORM, body=urllib.parse.urlencode(mismatched).encode())
    assert status == 400 and "The two passwords differ." in parsed(body).text
    chosen = {**form.fields, "new_password": "Brand-New-Pass-2!", "confirm_password": "Brand-New-Pass-2!"}
    status, headers, _ = page.call("POST", "/login", headers=FORM, body=urllib.parse.urlencode(chosen).encode())
    assert status == 302
    assert exchange(page, code_from(headers["location"], page), verifier)[0] == 200


@pytest.mark.parametrize("change, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"scope": "openid aws.cognito.signin.user.admin"}, "invalid_scope"),
])
def test_a_request_the_client_does_not_allow_goes_back_with_an_oauth_error(page, change, error):
    _, challenge = pkce()
    status, headers, _ = page.call("GET", f"/oauth2/authorize?{authorize_query(page, challenge, **change)}")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["location"]).query))
    assert status == 302 and query["error"] == error and query["state"] == "state-123"


@pytest.mark.parametrize("change", [{"client_id": "another-client"}, {"redirect_uri": "https://evil.example/"},
                                    {"redirect_uri": "https://d111.cloudfront.net/"}])
def test_a_wrong_client_or_redirect_uri_gets_an_error_page_not_a_redirect(page, change):
    _, challenge = pkce()
    status, headers, body = page.call("GET", f"/oauth2/authorize?{authorize_query(page, challenge, **change)}")
    assert status == 400 and "location" not in headers
    assert "An error was encountered with the requested page." in parsed(body).text


def test_logout_goes_back_only_to_an_allowed_logout_url(page):
    query = urllib.parse.urlencode({"client_id": page.client_id, "logout_uri": page.origin + "/"})
    status, headers, _ = page.call("GET", f"/logout?{query}")
    assert (status, headers["location"]) == (302, page.origin + "/")
    query = urllib.parse.urlencode({"client_id": page.client_id, "logout_uri": "https://evil.example/"})
    status, headers, _ = page.call("GET", f"/logout?{query}")
    assert status == 400 and "location" not in headers


def test_a_refresh_token_gives_a_new_access_token(page):
    verifier, challenge = pkce()
    _, _, tokens = exchange(page, code_from(sign_in(page, challenge)[1]["location"], page), verifier)
    fields = {"grant_type": "refresh_token", "client_id": page.client_id, "refresh_token": tokens["refresh_token"]}
    status, _, body = page.call("POST", "/oauth2/token", headers=FORM, body=urllib.parse.urlencode(fields).encode())
    refreshed = json.loads(body)
    assert status == 200 and refreshed["access_token"] != tokens["access_token"]
    status, _, _ = page.call("GET", "/api/search", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert status == 200
