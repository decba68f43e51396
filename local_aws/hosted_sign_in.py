"""The local AWS's stand-in for Cognito's hosted UI (the managed login pages of a user pool domain):
/oauth2/authorize shows a sign-in form, /login signs in against the local user pool (moto's
cognito-idp, InitiateAuth USER_PASSWORD_AUTH on the local endpoint) and redirects back with a
one-time authorization code, /oauth2/token exchanges the code for the pool's tokens after checking
the PKCE S256 verifier, /logout redirects to an allowed logout URL.

What differs from Cognito, said plainly (also on the form):
- The page is served by the local gateway, not from the distribution's domain, so the client's
  callback URL (https://<distribution>/) stands for the gateway's own origin + "/": that is the
  only redirect_uri (and, besides the client's logout URLs, the only logout_uri) accepted here.
- moto never checks the client's ExplicitAuthFlows, so USER_PASSWORD_AUTH works on the page's
  code-grant-only client; the deployed client is not widened for it.
- The tokens are moto's: its access token's scope claim is "aws.cognito.signin.user.admin", not the
  scopes asked for. No sign-in session cookie is kept: every authorize shows the form. MFA, password
  reset and federated sign-in are not offered.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass

from local_aws.served_site import SignInClient

# Cognito's authorization codes are valid for five minutes.
CODE_LIFETIME_S = 300.0
INCORRECT_CREDENTIALS = "Incorrect username or password."


@dataclass(frozen=True)
class HostedAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass(frozen=True)
class _IssuedCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    tokens: dict
    expires_at: float


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class HostedSignIn:
    """One distribution's sign-in stand-in; `cognito` is a cognito-idp client on the local endpoint."""

    def __init__(self, *, cognito, gateway_origin: str, code_lifetime_s: float = CODE_LIFETIME_S) -> None:
        self._cognito = cognito
        self.gateway_origin = gateway_origin
        self.callback_url = gateway_origin + "/"  # stands for the client's callback URL (see above)
        self._code_lifetime_s = code_lifetime_s
        self._codes: dict[str, _IssuedCode] = {}
        self._lock = threading.Lock()

    # ---- /oauth2/authorize and /login ------------------------------------------------------------

    def authorize(self, client: SignInClient, query: dict[str, str]) -> HostedAnswer:
        """GET /oauth2/authorize: the sign-in form, once the request is one the client allows."""
        refused = self._refusal(client, query)
        return refused or _page(_sign_in_form(query, self.callback_url))

    def login(self, client: SignInClient, form: dict[str, str]) -> HostedAnswer:
        """POST /login: the credentials (or the new password Cognito asks for), then back to the page."""
        refused = self._refusal(client, form)
        if refused:
            return refused
        username = form.get("username", "").strip()
        errors = self._cognito.exceptions
        try:
            if form.get("session"):
                if form.get("new_password", "") != form.get("confirm_password", ""):
                    return _page(_new_password_form(form, "The two passwords differ."), status=400)
                answer = self._cognito.respond_to_auth_challenge(
                    ClientId=client.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=form["session"],
                    ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": form.get("new_password", "")})
            else:
                answer = self._cognito.initiate_auth(
                    ClientId=client.client_id, AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": username, "PASSWORD": form.get("password", "")})
        except (errors.NotAuthorizedException, errors.UserNotFoundException):
            # Cognito's hosted UI says the same for an unknown user (no user existence errors).
            return _page(_sign_in_form(form, self.callback_url, INCORRECT_CREDENTIALS), status=400)
        except errors.InvalidPasswordException as error:
            return _page(_new_password_form(form, error.response["Error"]["Message"]), status=400)
        except errors.ClientError as error:
            return _page(_sign_in_form(form, self.callback_url, error.response["Error"]["Message"]), status=400)
        if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            return _page(_new_password_form({**form, "session": answer["Session"]}, ""))
        if "AuthenticationResult" not in answer:
            message = f"This local sign-in cannot answer the {answer.get('ChallengeName')} challenge."
            return _page(_sign_in_form(form, self.callback_url, message), status=400)
        code = self._issue_code(client, form, answer["AuthenticationResult"])
        return _redirect(form["redirect_uri"], {"code": code, "state": form.get("state")})

    def _refusal(self, client: SignInClient, query: dict[str, str]) -> HostedAnswer | None:
        """What Cognito answers instead of the form: an error page while the client or redirect_uri
        is wrong (nowhere safe to send the error), else an OAuth error back at the redirect_uri."""
        if query.get("client_id") != client.client_id:
            return _error_page("The client id is not the page's app client.")
        if query.get("redirect_uri") != self.callback_url:
            return _error_page(f"redirect_uri must be {self.callback_url} (the local stand-in for the client's "
                               f"callback URL {', '.join(client.callback_urls) or '(none)'}).")
        back = {"state": query.get("state")}
        if query.get("response_type") != "code":
            return _redirect(self.callback_url, {"error": "unsupported_response_type", **back})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _redirect(self.callback_url, {"error": "invalid_request",
                                                 "error_description": "a code_challenge with code_challenge_method "
                                                                      "S256 is required", **back})
        if not set(query.get("scope", "").split()) <= set(client.scopes):
            return _redirect(self.callback_url, {"error": "invalid_scope", **back})
        return None

    def _issue_code(self, client: SignInClient, form: dict[str, str], result: dict) -> str:
        scopes = form.get("scope", "").split() or list(client.scopes)
        tokens = {"access_token": result["AccessToken"], "refresh_token": result.get("RefreshToken"),
                  "token_type": "Bearer", "expires_in": int(result.get("ExpiresIn", 3600))}
        if "openid" in scopes:  # Cognito gives an id token only for the openid scope
            tokens["id_token"] = result["IdToken"]
        code = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._codes = {key: one for key, one in self._codes.items() if one.expires_at > now}
            self._codes[code] = _IssuedCode(client.client_id, form["redirect_uri"], form["code_challenge"], tokens,
                                            now + self._code_lifetime_s)
        return code

    # ---- /oauth2/token -----------------------------------------------------------------------------

    def token(self, client: SignInClient, form: dict[str, str]) -> HostedAnswer:
        grant_type = form.get("grant_type")
        if form.get("client_id") != client.client_id:
            return _token_error("invalid_client")
        if grant_type == "refresh_token":
            return self._refreshed(client, form.get("refresh_token", ""))
        if grant_type != "authorization_code":
            return _token_error("unsupported_grant_type")
        with self._lock:  # single use: the code goes at its first exchange, whether it works or not
            issued = self._codes.pop(form.get("code", ""), None)
        if (issued is None or issued.expires_at <= time.monotonic() or issued.client_id != client.client_id
                or issued.redirect_uri != form.get("redirect_uri")
                or not secrets.compare_digest(s256_challenge(form.get("code_verifier", "")), issued.code_challenge)):
            return _token_error("invalid_grant")
        return _json_answer(200, {name: value for name, value in issued.tokens.items() if value is not None})

    def _refreshed(self, client: SignInClient, refresh_token: str) -> HostedAnswer:
        try:
            result = self._cognito.initiate_auth(ClientId=client.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                                 AuthParameters={"REFRESH_TOKEN": refresh_token})["AuthenticationResult"]
        except Exception:  # moto raises KeyError-like errors for an unknown token: all mean invalid_grant
            return _token_error("invalid_grant")
        return _json_answer(200, {"access_token": result["AccessToken"], "id_token": result["IdToken"],
                                  "token_type": "Bearer", "expires_in": int(result.get("ExpiresIn", 3600))})

    # ---- /logout --------------------------------------------------------------------------------------

    def logout(self, client: SignInClient, query: dict[str, str]) -> HostedAnswer:
        if query.get("client_id") != client.client_id:
            return _error_page("The client id is not the page's app client.")
        logout_uri = query.get("logout_uri", "")
        if logout_uri not in (*client.logout_urls, self.callback_url):
            return _error_page(f"logout_uri must be one of the client's logout URLs or {self.callback_url}.")
        return HostedAnswer(302, [("Location", logout_uri), ("Cache-Control", "no-store")])


def _redirect(url: str, parameters: dict) -> HostedAnswer:
    query = urllib.parse.urlencode({name: value for name, value in parameters.items() if value is not None})
    return HostedAnswer(302, [("Location", f"{url}?{query}"), ("Cache-Control", "no-store")])


def _json_answer(status: int, document: dict) -> HostedAnswer:
    # RFC 6749 section 5.1: token answers must not be cached.
    return HostedAnswer(status, [("Content-Type", "application/json;charset=UTF-8"), ("Cache-Control", "no-store"),
                                 ("Pragma", "no-cache")], json.dumps(document).encode())


def _token_error(error: str) -> HostedAnswer:
    return _json_answer(400, {"error": error})


def _page(body: str, *, status: int = 200) -> HostedAnswer:
    return HostedAnswer(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                        body.encode("utf-8"))


def _error_page(message: str) -> HostedAnswer:
    return _page(_document("Sign-in error", f"<p>An error was encountered with the requested page.</p>"
                                            f"<p>{html.escape(message)}</p>"), status=400)


# The request parameters every form carries on to /login, so that it can be checked again there.
_CARRIED = ("client_id", "response_type", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")


def _hidden(values: dict[str, str], names: tuple[str, ...]) -> str:
    return "".join(f'<input type="hidden" name="{name}" value="{html.escape(values.get(name, ""))}">'
                   for name in names if values.get(name) is not None)


def _error_text(message: str) -> str:
    return f'<p role="alert" id="sign-in-error">{html.escape(message)}</p>' if message else ""


def _sign_in_form(values: dict[str, str], callback_url: str, message: str = "") -> str:
    described = ' aria-describedby="sign-in-error"' if message else ""
    return _document("Sign in", f"""
<p>This is the local AWS's stand-in for Cognito's hosted sign-in page: it signs you in against the
local user pool. After signing in you return to {html.escape(callback_url)}, which stands here for the
app client's callback URL.</p>
{_error_text(message)}
<form method="post" action="/login">
{_hidden(values, _CARRIED)}
<p><label for="username">Username or email</label><br>
<input id="username" name="username" autocomplete="username" required value="{html.escape(values.get('username', ''))}"{described}></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}></p>
<p><button type="submit">Sign in</button></p>
</form>""")


def _new_password_form(values: dict[str, str], message: str) -> str:
    return _document("Change your password", f"""
<p>This is the local AWS's stand-in for Cognito's hosted sign-in page. Your password is temporary:
choose a new one, as Cognito asks at the first sign-in.</p>
{_error_text(message)}
<form method="post" action="/login">
{_hidden(values, _CARRIED + ("username", "session"))}
<p><label for="new_password">New password</label><br>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required></p>
<p><label for="confirm_password">New password again</label><br>
<input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required></p>
<p><button type="submit">Change password and sign in</button></p>
</form>""")


def _document(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{html.escape(title)} (local AWS)</title></head>'
            f'<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>\n')
