// The typed client: every path, parameter and body is checked against shared/api/openapi.json
// (types generated at build time into src/generated/api.d.ts), so a change to the API that the
// portal does not follow fails `tsc --noEmit` in the build.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/api";

export type Schemas = components["schemas"];
export type Tenant = Schemas["Tenant"];
export type ChangeRequest = Schemas["TenantChangeRequest"];
export type ChangeEntry = Schemas["ChangeEntry"];
export type Problem = Schemas["Problem"];
export type TenantState = Schemas["TenantState"];
export type Operation = Schemas["Operation"];
export type ChangeModel = Schemas["ChangeModel"];
export type Rollout = Schemas["Rollout"];
export type RolloutCreate = Schemas["RolloutCreate"];
export type RolloutPlan = Schemas["RolloutPlanSummary"];
export type PlannedTenant = Schemas["PlannedTenant"];
export type FleetVersions = Schemas["FleetVersionsSummary"];

let token: string | null = null;
export function setToken(t: string | null) {
  token = t;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    // An expired or revoked token: back to the sign-in page rather than errors on every panel.
    if (response.status === 401 && token) dispatchEvent(new Event(UNAUTHORIZED));
    return response;
  },
};

export const UNAUTHORIZED = "portal:unauthorized";

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/** A problem's words for a person: its detail (and the field at fault). */
export function problemText(error: unknown, status?: number): string {
  const p = error as Partial<Problem> | undefined;
  if (p && typeof p.detail === "string") return p.field ? `${p.detail} (field: ${p.field})` : p.detail;
  return `The API answered ${status ?? "with an error"}.`;
}

export function idempotencyKey(): string {
  return crypto.randomUUID();
}
