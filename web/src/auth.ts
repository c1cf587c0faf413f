// Who is signed in. The token lives in sessionStorage (this tab only, gone when it closes),
// never in a cookie: the API reads only the Authorization header.
//
// Locally, `make signin` prints http://127.0.0.1:3000/#access_token=<jwt>: the fragment never
// reaches a server; it is read here and taken out of the address bar at once.
// In AWS, /config.json names the Cognito hosted UI: sign-in is the authorization code flow with
// PKCE, and the ID token (what the HTTP API's JWT authorizer checks) is kept the same way.

export type Role = "admin" | "operator" | "viewer";

export interface Session {
  token: string;
  sub: string;
  email: string | null;
  role: Role;
  expires: number;
}

export interface CognitoConfig {
  domain: string; // https://<prefix>.auth.<region>.amazoncognito.com
  client_id: string;
  redirect_uri: string;
}

const KEY = "portal.token";
const VERIFIER = "portal.pkce";

function b64urlDecode(s: string): string {
  const pad = s.replace(/-/g, "+").replace(/_/g, "/");
  return atob(pad + "===".slice((pad.length + 3) % 4));
}

export function parse(token: string): Session | null {
  try {
    const part = token.split(".")[1];
    if (!part) return null;
    const claims = JSON.parse(b64urlDecode(part)) as Record<string, unknown>;
    const groups = Array.isArray(claims["cognito:groups"]) ? (claims["cognito:groups"] as string[]) : [];
    const role: Role = groups.includes("admin") ? "admin" : groups.includes("operator") ? "operator" : "viewer";
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 : 0;
    if (exp && exp < Date.now()) return null;
    return {
      token,
      sub: String(claims.sub ?? ""),
      email: typeof claims.email === "string" ? claims.email : null,
      role,
      expires: exp,
    };
  } catch {
    return null;
  }
}

/** Takes a token from the fragment (then drops it from the address bar), or the tab's stored one. */
export function restore(): Session | null {
  const m = /^#access_token=([^&]+)/.exec(location.hash);
  if (m && m[1]) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search + "#/");
  }
  const token = sessionStorage.getItem(KEY);
  const session = token ? parse(token) : null;
  if (token && !session) sessionStorage.removeItem(KEY);
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  bytes.forEach((b) => (s += String.fromCharCode(b)));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Sends the browser to Cognito's hosted UI (authorization code + PKCE, S256). */
export async function startCognito(c: CognitoConfig): Promise<void> {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER, verifier);
  const q = new URLSearchParams({
    response_type: "code",
    client_id: c.client_id,
    redirect_uri: c.redirect_uri,
    scope: "openid email",
    code_challenge_method: "S256",
    code_challenge: b64url(digest),
  });
  location.assign(`${c.domain}/oauth2/authorize?${q}`);
}

/** Back from the hosted UI with ?code=: trades it (with the verifier) for the tokens. */
export async function finishCognito(c: CognitoConfig): Promise<Session | null> {
  const code = new URLSearchParams(location.search).get("code");
  const verifier = sessionStorage.getItem(VERIFIER);
  if (!code || !verifier) return null;
  sessionStorage.removeItem(VERIFIER);
  const resp = await fetch(`${c.domain}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: c.client_id,
      code,
      redirect_uri: c.redirect_uri,
      code_verifier: verifier,
    }),
  });
  history.replaceState(null, "", location.pathname + "#/");
  if (!resp.ok) return null;
  const body = (await resp.json()) as { id_token?: string };
  if (!body.id_token) return null;
  sessionStorage.setItem(KEY, body.id_token);
  return parse(body.id_token);
}

export const can = {
  act: (s: Session | null) => s?.role === "admin" || s?.role === "operator",
  admin: (s: Session | null) => s?.role === "admin",
};
