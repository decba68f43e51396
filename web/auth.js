// Sign-in with the authorization code grant and PKCE (S256) against the user pool's domain
// (config.auth). Tokens live in sessionStorage: they go when the tab closes.

const TOKENS = "imagelabels.tokens";
const PENDING = "imagelabels.signin";

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

export async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function redirectUri() {
  return location.origin + "/";
}

// Leaves for the sign-in page; the view the user was on comes back after the return.
export async function signIn(auth) {
  sessionStorage.removeItem(TOKENS);
  const verifier = randomText(32); // 43 characters, RFC 7636's minimum
  const state = randomText(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const query = new URLSearchParams({
    client_id: auth.clientId,
    response_type: "code",
    redirect_uri: redirectUri(),
    scope: auth.scopes.join(" "),
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${auth.authorizeUrl}?${query}`);
}

export function signOut(auth) {
  sessionStorage.removeItem(TOKENS);
  sessionStorage.removeItem(PENDING);
  const query = new URLSearchParams({ client_id: auth.clientId, logout_uri: redirectUri() });
  location.assign(`${auth.logoutUrl}?${query}`);
}

// On the return from sign-in (?code=...&state=...): exchanges the code for tokens. Returns the hash
// of the view to show, or null when this load is not a return from sign-in.
export async function finishSignIn(auth) {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", redirectUri() + (pending?.hash || ""));
  if (query.has("error")) {
    throw new Error(`Sign-in was refused: ${query.get("error_description") || query.get("error")}`);
  }
  if (!pending || query.get("state") !== pending.state) {
    throw new Error("This sign-in answer was not for this page (its state does not match). Please sign in again.");
  }
  const response = await fetch(auth.tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: auth.clientId,
      code: query.get("code"),
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`Sign-in failed: the token exchange answered ${response.status}.`);
  storeTokens(await response.json());
  return pending.hash || "";
}

// Tokens as the token endpoint answers them; a refresh answer carries no refresh token, so the one
// kept goes on.
function storeTokens(tokens, refreshToken = tokens.refresh_token) {
  sessionStorage.setItem(TOKENS, JSON.stringify({
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    refresh_token: refreshToken,
    expires_at: Date.now() + (Number(tokens.expires_in) || 3600) * 1000,
  }));
}

function storedTokens() {
  return JSON.parse(sessionStorage.getItem(TOKENS) || "null");
}

// Whether this tab signed in (its access token may have expired: currentAccessToken renews it).
export function signedIn() {
  const tokens = storedTokens();
  return Boolean(tokens && (tokens.access_token || tokens.refresh_token));
}

// A token this close to its expiry is renewed first: it could expire on its way to the API.
const EXPIRY_MARGIN_MS = 30 * 1000;
let renewal = null; // one refresh at a time, shared by the calls that wait for it

// The access token while it is valid; past its expiry, a new one through the refresh token (the
// token endpoint's refresh_token grant), so an hour's search does not end in a sign-in; null when
// neither works (the caller signs in again).
export async function currentAccessToken(auth) {
  const tokens = storedTokens();
  if (!tokens) return null;
  if (tokens.access_token && Date.now() < tokens.expires_at - EXPIRY_MARGIN_MS) return tokens.access_token;
  if (!tokens.refresh_token) return null;
  renewal ??= renew(auth, tokens.refresh_token).finally(() => { renewal = null; });
  return renewal;
}

async function renew(auth, refreshToken) {
  const response = await fetch(auth.tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: auth.clientId, refresh_token: refreshToken }),
  }).catch(() => null);
  if (!response || !response.ok) {
    sessionStorage.removeItem(TOKENS); // revoked or expired: only a new sign-in helps
    return null;
  }
  const tokens = await response.json();
  storeTokens(tokens, refreshToken);
  return tokens.access_token;
}
