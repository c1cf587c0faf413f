// The fleet board: counts by state and release, the tenants that need attention first, and the
// change requests running now with their steps.
//
// What it asks the API, whatever the size of the fleet (Octopus #6809: no request per tenant):
//   - GET /v1/fleet/summary                            counts (one Query on the fleet counters)
//   - GET /v1/tenants?state=Broken                     the broken tenants, named
//   - GET /v1/history?entity=tenant&since=<24 h ago>   which tenants a change request holds or
//                                                      released lately (`active_change_request_id`)
//   - GET /v1/rollouts?limit=ROLLOUTS                  the newest rollouts: those running are linked,
//                                                      those halted lately need attention
//   - GET /v1/licenses/expiring?days=LICENSE_DAYS     the active license assignments expiring
//                                                      soon (one Query on a sparse index)
//   - GET /v1/fleet/drift?limit=SHOW_DRIFT             the tenants whose box differs from their
//                                                      record (one Query on a sparse index), the
//                                                      first SHOW_DRIFT named (names cached)
//   - at most DETAIL_CAP change requests and DETAIL_CAP tenant names for those (names cached)
// Then every POLL_MS one `GET /v1/history?entity=tenant&since=<newest seen>`: only when it shows a new entry
// is the board read again; running change requests (their steps are on the change request, not
// in the tenant's history) are read again while they run, at most DETAIL_CAP of them.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type ChangeEntry, type ChangeRequest, type Rollout, type Schemas, type Tenant } from "../api";
import { ErrorBox, Link, Loading, StateBadge, StatusBadge, Steps, When } from "../ui";
import { type DriftReport, driftText } from "./Drift";
import { type Assignment, daysLeft, daysLeftText } from "./Licenses";
import { rolloutWhat } from "./Rollouts";

export const POLL_MS = 4000;
export const DETAIL_CAP = 12;
/** Broken tenants named on the board; the rest are one link away (the filtered list). */
const SHOW_BROKEN = 20;
const WINDOW_MS = 24 * 3600 * 1000;
/** The newest rollouts read: the board links those of them running or paused, and names those
 * its gate halted in the last 24 h among what needs attention. */
const ROLLOUTS = 20;
/** License assignments expiring within this many days need attention. */
export const LICENSE_DAYS = 7;
/** Assignments named on the board; the rest are one link away (the licenses page). */
const SHOW_EXPIRING = 20;
/** Drifted tenants named on the board; the rest are one link away (the drift page). */
const SHOW_DRIFT = 5;

const names = new Map<string, string>();

async function tenantName(id: string): Promise<string> {
  const known = names.get(id);
  if (known) return known;
  const { data } = await api.GET("/v1/tenants/{id}", { params: { path: { id } } });
  if (data) names.set(id, data.name);
  return data?.name ?? id;
}

interface Board {
  summary: Schemas["FleetSummary"];
  broken: Tenant[];
  changes: ChangeRequest[];
  rollouts: Rollout[];
  expiring: Assignment[];
  expiringMore: boolean;
  drift: DriftReport[];
  driftMore: boolean;
  newest: string | null;
  seen: Set<string>;
  readAt: Date;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v ? v : null;
}

/** Active and lately released change requests, from the tenants' history (newest first). */
function changeIdsOf(entries: ChangeEntry[]): { active: string[]; ended: string[] } {
  const decided = new Set<string>();
  const active: string[] = [];
  const ended: string[] = [];
  for (const e of entries) {
    if (e.field !== "active_change_request_id" || decided.has(e.entity_id)) continue;
    decided.add(e.entity_id);
    const now = str(e.new as unknown);
    const before = str(e.old as unknown);
    if (now) active.push(now);
    else if (before) ended.push(before);
  }
  return { active, ended };
}

async function readBoard(): Promise<Board> {
  const since = new Date(Date.now() - WINDOW_MS).toISOString();
  const [summary, broken, recent, rollouts, expiring, drift] = await Promise.all([
    api.GET("/v1/fleet/summary"),
    api.GET("/v1/tenants", { params: { query: { state: "Broken", limit: 100 } } }),
    api.GET("/v1/history", { params: { query: { entity: "tenant", since, limit: 500 } } }),
    api.GET("/v1/rollouts", { params: { query: { limit: ROLLOUTS } } }),
    api.GET("/v1/licenses/expiring", { params: { query: { days: LICENSE_DAYS, limit: SHOW_EXPIRING } } }),
    api.GET("/v1/fleet/drift", { params: { query: { limit: SHOW_DRIFT } } }),
  ]);
  if (!summary.data) throw new Error(`fleet summary: ${summary.response.status}`);
  const entries = recent.data?.items ?? [];
  const { active, ended } = changeIdsOf(entries);
  const ids = [...active, ...ended].slice(0, DETAIL_CAP);
  const changes = (await Promise.all(ids.map(readChange))).filter((c): c is ChangeRequest => !!c);
  for (const t of broken.data?.items ?? []) names.set(t.id, t.name);
  // Names only for the change requests the board shows (a succeeded one is not shown).
  await Promise.all(changes.filter((c) => c.status !== "succeeded").map((c) => tenantName(c.tenant_id)));
  await Promise.all((drift.data?.items ?? []).map((r) => tenantName(r.tenant_id)));
  return {
    summary: summary.data,
    broken: broken.data?.items ?? [],
    changes,
    rollouts: (rollouts.data?.items ?? []).filter(
      (r) => r.status === "running" || r.status === "paused" || (r.status === "halted" && Date.parse(r.updated_at) > Date.now() - WINDOW_MS),
    ),
    expiring: expiring.data?.items ?? [],
    expiringMore: !!expiring.data?.next_token,
    drift: drift.data?.items ?? [],
    driftMore: !!drift.data?.next_token,
    newest: entries[0]?.at ?? null,
    seen: new Set(entries.slice(0, 50).map((e) => `${e.sequence}/${e.field}`)),
    readAt: new Date(),
  };
}

async function readChange(id: string): Promise<ChangeRequest | null> {
  const { data } = await api.GET("/v1/change-requests/{id}", { params: { path: { id } } });
  return data ?? null;
}

/** Any tenant written since the newest entry the board has read? (What the board shows is
 * all read from tenants: their counters, states and claims.) */
async function changedSince(board: Board): Promise<boolean> {
  const since = board.newest ?? new Date(board.readAt.getTime() - 1000).toISOString();
  const { data } = await api.GET("/v1/history", { params: { query: { entity: "tenant", since, limit: 20 } } });
  return (data?.items ?? []).some((e) => !board.seen.has(`${e.sequence}/${e.field}`));
}

const stuck = (c: ChangeRequest) => c.status === "running" && !!c.deadline_at && new Date(c.deadline_at) < new Date();

export function BoardPage() {
  const [board, setBoard] = useState<Board | null>(null);
  const [error, setError] = useState<string | null>(null);
  const ref = useRef<Board | null>(null);
  ref.current = board;

  useEffect(() => {
    let alive = true;
    let busy = false;
    const full = async () => {
      const b = await readBoard();
      if (alive) setBoard(b);
    };
    const poll = async () => {
      const b = ref.current;
      if (busy || !b || document.visibilityState !== "visible") return;
      busy = true;
      try {
        if (await changedSince(b)) await full();
        else if (b.changes.some((c) => c.status === "running" || c.status === "pending")) {
          const fresh = await Promise.all(
            b.changes.map((c) => (c.status === "running" || c.status === "pending" ? readChange(c.id) : c)),
          );
          if (alive) setBoard({ ...b, changes: fresh.map((c, i) => c ?? b.changes[i]!), readAt: new Date() });
        }
        if (alive) setError(null);
      } catch (e) {
        if (alive) setError(e instanceof Error ? e.message : String(e));
      } finally {
        busy = false;
      }
    };
    full().catch((e) => alive && setError(String(e)));
    const id = setInterval(poll, POLL_MS);
    return () => {
      alive = false;
      clearInterval(id);
    };
  }, []);

  if (!board) return error ? <ErrorBox error={error} /> : <Loading what="the fleet" />;
  const { summary } = board;
  const brokenIds = new Set(board.broken.map((t) => t.id));
  // A broken tenant's own failed change request is said on its row, not twice.
  const failedOf = new Map(board.changes.filter((c) => c.status === "failed" && brokenIds.has(c.tenant_id)).map((c) => [c.tenant_id, c]));
  const failed = board.changes.filter((c) => c.status === "failed" && !brokenIds.has(c.tenant_id));
  // Waiting for a second admin: before they start, or at a running swap's cut-over gate.
  const waiting = board.changes.filter(
    (c) => c.status === "awaiting_approval" || (c.status === "running" && !!c.gate && c.gate.approved === undefined),
  );
  const stuckOnes = board.changes.filter(stuck);
  const running = board.changes.filter((c) => c.status === "running" || c.status === "pending");
  const brokenTotal = summary.by_state["Broken"] ?? board.broken.length;
  const halted = board.rollouts.filter((r) => r.status === "halted");
  const inProgress = board.rollouts.filter((r) => r.status !== "halted");
  const attention = brokenTotal + failed.length + waiting.length + stuckOnes.length + halted.length + board.expiring.length + board.drift.length;

  return (
    <section aria-labelledby="board-title">
      <h1 id="board-title">Fleet</h1>
      <p class="muted" aria-live="polite">
        {summary.total} tenants · read at <When at={board.readAt.toISOString()} /> · refreshes itself
      </p>
      <ErrorBox error={error} />

      <h2 id="attention">Needs attention ({attention})</h2>
      {attention === 0 ? (
        <p>Nothing needs attention.</p>
      ) : (
        <ul class="attention" aria-labelledby="attention">
          {board.broken.slice(0, SHOW_BROKEN).map((t) => (
            <li>
              <StateBadge state="Broken" /> <Link to={`/tenants/${t.id}`}>{t.name}</Link> is broken
              {failedOf.get(t.id) && (
                <>
                  {" "}
                  after a failed <Link to={`/change-requests/${failedOf.get(t.id)!.id}`}>{failedOf.get(t.id)!.operation.replace(/_/g, " ")}</Link>
                  {failedOf.get(t.id)!.error && <span class="problem-inline">: {failedOf.get(t.id)!.error}</span>}
                </>
              )}
              {t.active_change_request_id && (
                <>
                  {" "}
                  (held by <Link to={`/change-requests/${t.active_change_request_id}`}>{t.active_change_request_id}</Link>)
                </>
              )}
            </li>
          ))}
          {brokenTotal > SHOW_BROKEN && (
            <li>
              <Link to="/tenants?state=Broken">All {brokenTotal} broken tenants</Link>
            </li>
          )}
          {failed.map((c) => (
            <li>
              <StatusBadge status="failed" /> <ChangeLine c={c} />
              {c.error && <span class="problem-inline"> {c.error}</span>}
            </li>
          ))}
          {stuckOnes.map((c) => (
            <li>
              <span class="badge status-failed">stuck</span> <ChangeLine c={c} /> past its deadline{" "}
              <When at={c.deadline_at} />
            </li>
          ))}
          {halted.map((r) => (
            <li>
              <StatusBadge status="halted" /> Rollout <Link to={`/rollouts/${r.id}`}>{rolloutWhat(r)}</Link> halted at wave{" "}
              {Math.min(r.current_wave + 1, r.wave_sizes.length)} of {r.wave_sizes.length}
              {r.ended_reason && <span class="problem-inline">: {r.ended_reason}</span>}
            </li>
          ))}
          {board.expiring.map((a) => (
            <li data-assignment={a.id}>
              <span class={`badge ${a.expires_at && daysLeft(a.expires_at) < 0 ? "status-failed" : "status-awaiting_approval"}`}>license</span>{" "}
              Assignment <code>{a.id}</code> of customer{" "}
              <Link to={`/tenants?customer_id=${encodeURIComponent(a.customer_id)}`}>{a.customer_id}</Link> expires{" "}
              <When at={a.expires_at} /> ({a.expires_at ? daysLeftText(a.expires_at) : "—"})
            </li>
          ))}
          {board.expiringMore && (
            <li>
              <Link to={`/licenses?days=${LICENSE_DAYS}`}>All the licenses expiring within {LICENSE_DAYS} days</Link>
            </li>
          )}
          {board.drift.map((r) => (
            <li data-drift={r.tenant_id}>
              <span class="badge status-awaiting_approval">drift</span>{" "}
              <Link to={`/tenants/${r.tenant_id}`}>{names.get(r.tenant_id) ?? r.tenant_id}</Link> runs what its record does not say
              <span class="muted">: {r.drifted.slice(0, 3).map(driftText).join("; ")}{r.drifted.length > 3 ? "; …" : ""}</span> (checked{" "}
              <When at={r.checked_at} />)
            </li>
          ))}
          {board.driftMore && (
            <li>
              <Link to="/drift">All the drifted tenants</Link>
            </li>
          )}
          {waiting.map((c) => (
            <li>
              <StatusBadge status="awaiting_approval" /> <ChangeLine c={c} /> asked by {c.requested_by}
            </li>
          ))}
        </ul>
      )}

      <h2 id="running">Running now ({running.length})</h2>
      {running.length === 0 ? (
        <p>No change request is running.</p>
      ) : (
        <ul class="running" aria-labelledby="running">
          {running.map((c) => (
            <li>
              <ChangeLine c={c} /> <StatusBadge status={c.status} />
              <Steps cr={c} />
            </li>
          ))}
        </ul>
      )}

      {inProgress.length > 0 && (
        <>
          <h2 id="rollouts-running">Rollouts in progress ({inProgress.length})</h2>
          <ul class="running" aria-labelledby="rollouts-running">
            {inProgress.map((r) => (
              <li>
                <Link to={`/rollouts/${r.id}`}>{rolloutWhat(r)}</Link> over {r.tenant_count} {r.tenant_count === 1 ? "tenant" : "tenants"}, wave{" "}
                {Math.min(r.current_wave + 1, r.wave_sizes.length)} of {r.wave_sizes.length} <StatusBadge status={r.status} />
              </li>
            ))}
          </ul>
        </>
      )}

      <div class="two">
        <CountTable title="Tenants by state" counts={summary.by_state} filter="state" />
        <CountTable title="Tenants by release" counts={summary.by_release} filter="release" />
      </div>
    </section>
  );
}

function ChangeLine({ c }: { c: ChangeRequest }) {
  return (
    <>
      <Link to={`/change-requests/${c.id}`}>{c.operation.replace(/_/g, " ")}</Link> on{" "}
      <Link to={`/tenants/${c.tenant_id}`}>{names.get(c.tenant_id) ?? c.tenant_id}</Link>
    </>
  );
}

function CountTable(props: { title: string; counts: Record<string, number>; filter: "state" | "release" }) {
  const rows = Object.entries(props.counts);
  return (
    <table class="counts">
      <caption>{props.title}</caption>
      <thead>
        <tr>
          <th scope="col">{props.filter === "state" ? "State" : "Release"}</th>
          <th scope="col">Tenants</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([k, n]) => (
          <tr>
            <th scope="row">
              <Link to={`/tenants?${props.filter}=${encodeURIComponent(k)}`}>{k}</Link>
            </th>
            <td class="num">{n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
