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
  const tokens = await response.json();
  sessionStorage.setItem(TOKENS, JSON.stringify({
    access_token: tokens.access_token,
    id_token: tokens.id_token,
    expires_at: Date.now() + (Number(tokens.expires_in) || 3600) * 1000,
  }));
  return pending.hash || "";
}

// The access token while it is valid, else null.
export function accessToken() {
  const tokens = JSON.parse(sessionStorage.getItem(TOKENS) || "null");
  if (!tokens || !tokens.access_token || Date.now() >= tokens.expires_at) return null;
  return tokens.access_token;
}
