// The page's one way to call /api/*: the bearer token on every call, a 401 back to sign-in,
// an error answer's {"message"} as the Error's message.
import { currentAccessToken, signIn } from "./auth.js";

let settings = null;

export function configureApi(config) {
  settings = config;
}

export class NotFound extends Error {}

function apiUrl(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    for (const one of [].concat(value)) {
      if (one !== undefined && one !== null && one !== "") query.append(name, one);
    }
  }
  const text = query.toString();
  return `${settings.apiBase}${path}${text ? "?" + text : ""}`;
}

async function call(method, path, { params, body } = {}) {
  const token = await currentAccessToken(settings.auth);
  if (!token) {
    await signIn(settings.auth);
    throw new Error("Signing in again.");
  }
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(apiUrl(path, params), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    await signIn(settings.auth);
    throw new Error("Signing in again.");
  }
  const answer = await response.json().catch(() => ({}));
  if (response.status === 404) throw new NotFound(answer.message || "Not found.");
  if (!response.ok) throw new Error(answer.message || `The API answered ${response.status}.`);
  return answer;
}

export const apiGet = (path, params) => call("GET", path, { params });
export const apiPost = (path, body) => call("POST", path, { body });
