// A rollout: its state, what it runs over which selector, the gate (failures a wave may have,
// the soak), and each wave with its tenants, their change requests and statuses. Pause and
// resume (operators and admins) and abort (admins, with a reason), each confirmed first, as the
// API allows them from its state. Read again every 3 s until it is over.
//
// Requests: the rollout (one; its members come with it), and the names of at most NAME_CAP of
// its tenants (cached); past that the page shows tenant ids, so a rollout of thousands of
// tenants costs the same.
import { useState } from "preact/hooks";
import { api, problemText, type Rollout } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { Actor, ErrorBox, Link, Loading, StatusBadge, When } from "../ui";
import { rolloutOver, rolloutWhat } from "./Rollouts";

const NAME_CAP = 20;
const names = new Map<string, string>();

async function nameTenants(ids: string[]): Promise<void> {
  const missing = ids.filter((id) => !names.has(id)).slice(0, Math.max(0, NAME_CAP - names.size));
  await Promise.all(
    missing.map(async (id) => {
      const { data } = await api.GET("/v1/tenants/{id}", { params: { path: { id } } });
      if (data) names.set(id, data.name);
    }),
  );
}

export function RolloutPage({ id, session }: { id: string; session: Session }) {
  const [live, setLive] = useState(true);
  const load = useLoad(
    async () => {
      const { data, response } = await api.GET("/v1/rollouts/{id}", { params: { path: { id } } });
      if (!data) throw new Error(response.status === 404 ? "No such rollout." : `rollout: ${response.status}`);
      const ids = (data.waves ?? []).flatMap((w) => w.tenants.map((t) => t.tenant_id));
      if (ids.length <= NAME_CAP) await nameTenants(ids);
      setLive(!rolloutOver(data));
      return data;
    },
    [id],
    live ? 3000 : undefined,
  );
  const r = load.data;
  if (!r) return load.error ? <ErrorBox error={load.error} /> : <Loading what="the rollout" />;
  const over = rolloutOver(r);
  const sel = r.selector ?? {};
  const criteria = [
    sel.state && `state ${sel.state}`,
    sel.release && `release ${sel.release}`,
    sel.customer_id && `customer ${sel.customer_id}`,
    sel.tags && Object.keys(sel.tags).length > 0 && `tags ${Object.entries(sel.tags).map(([k, v]) => `${k}:${v}`).join(", ")}`,
    sel.tenant_ids && `${sel.tenant_ids.length} named ${sel.tenant_ids.length === 1 ? "tenant" : "tenants"}`,
  ].filter(Boolean);
  const current = (r.waves ?? [])[r.current_wave];
  return (
    <section aria-labelledby="rollout-title">
      <h1 id="rollout-title">
        {rolloutWhat(r)} <StatusBadge status={r.status} />
      </h1>
      <p class="muted" aria-live="polite">
        {over ? "Over." : r.status === "paused" ? "Paused: nothing new starts; what runs goes on." : "In progress: this page refreshes itself."}
      </p>
      <dl class="facts">
        <dt>Rollout</dt>
        <dd>
          <code>{r.id}</code>
        </dd>
        <dt>Selector</dt>
        <dd>{criteria.length ? criteria.join("; ") : "every tenant"}</dd>
        <dt>Tenants</dt>
        <dd>
          {r.tenant_count} in its waves
          {r.refused_count > 0 && `, ${r.refused_count} selected but left out (their state, busy, a downgrade…)`}
        </dd>
        <dt>Requested</dt>
        <dd>
          <When at={r.created_at} /> by <Actor who={r.created_by} />
        </dd>
        {r.reason && (
          <>
            <dt>Reason</dt>
            <dd>{r.reason}</dd>
          </>
        )}
        <dt>Waves asked</dt>
        <dd>
          {r.requested_waves.join(", ")} (the last takes the rest), {r.concurrency} at once within a wave
        </dd>
        {r.ended_reason && (
          <>
            <dt>Ended</dt>
            <dd>{r.ended_reason}</dd>
          </>
        )}
      </dl>
      <h2 id="gate-title">Gate</h2>
      <dl class="facts" aria-labelledby="gate-title">
        <dt>Failures allowed per wave</dt>
        <dd>{r.max_failures}</dd>
        <dt>Soak</dt>
        <dd>{r.soak_seconds} s without an alarm on the rollout's tenants before the next wave</dd>
        <dt>{over ? "Where it stopped" : "Current wave"}</dt>
        <dd>
          {current ? (
            <>
              wave {r.current_wave + 1} of {r.wave_sizes.length}: {current.succeeded} succeeded, {current.failed} failed
              {current.failed > r.max_failures ? " (more than allowed)" : ""}, {current.skipped} skipped, of {current.size}
              {r.soak_started_at && (
                <>
                  ; soak began <When at={r.soak_started_at} />
                </>
              )}
            </>
          ) : (
            "past the last wave"
          )}
        </dd>
      </dl>
      {session.role !== "viewer" && !over && <Controls r={r} session={session} onDone={load.reload} />}
      <h2>Waves</h2>
      {(r.waves ?? []).map((w) => (
        <table class="list wave">
          <caption>
            Wave {w.index + 1}: {w.size} {w.size === 1 ? "tenant" : "tenants"} · {w.succeeded} succeeded · {w.failed} failed · {w.skipped} skipped
            {w.index === r.current_wave && !over ? " · now" : ""}{" "}
            <progress
              max={Math.max(w.size, 1)}
              value={w.succeeded + w.failed + w.skipped}
              aria-label={`Wave ${w.index + 1}: ${w.succeeded + w.failed + w.skipped} of ${w.size} ended`}
            />
          </caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Status</th>
              <th scope="col">Change request</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {w.tenants.map((t) => (
              <tr>
                <td>
                  <Link to={`/tenants/${t.tenant_id}`}>{names.get(t.tenant_id) ?? t.tenant_id}</Link>
                </td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td>{t.change_request_id ? <Link to={`/change-requests/${t.change_request_id}`}>{t.change_request_id}</Link> : <span class="muted">none</span>}</td>
                <td>{t.note ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

type Control = "pause" | "resume" | "abort";

const CONTROLS: Record<Control, { button: string; confirm: string; says: string }> = {
  pause: { button: "Pause", confirm: "Yes, pause it", says: "Nothing new starts while it is paused; the change requests running go on." },
  resume: { button: "Resume", confirm: "Yes, resume it", says: "It goes on where it stopped." },
  abort: {
    button: "Abort…",
    confirm: "Yes, abort it",
    says: "It ends cancelled: its running change requests are aborted, and its waiting tenants get none.",
  },
};

/** What the API allows from the rollout's state and the caller's role. */
export function controlsFor(r: Rollout, s: Session): Control[] {
  if (s.role === "viewer") return [];
  const out: Control[] = [];
  if (r.status === "running") out.push("pause");
  if (r.status === "paused") out.push("resume");
  if ((r.status === "running" || r.status === "paused") && s.role === "admin") out.push("abort");
  return out;
}

function Controls({ r, session, onDone }: { r: Rollout; session: Session; onDone: () => void }) {
  const [open, setOpen] = useState<Control | null>(null);
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const allowed = controlsFor(r, session);
  if (allowed.length === 0) return null;
  const confirm = async () => {
    if (!open) return;
    setBusy(true);
    setProblem(null);
    const path = { params: { path: { id: r.id } } };
    const answer =
      open === "abort"
        ? await api.POST("/v1/rollouts/{id}/abort", { ...path, body: { reason } })
        : open === "pause"
          ? await api.POST("/v1/rollouts/{id}/pause", path)
          : await api.POST("/v1/rollouts/{id}/resume", path);
    setBusy(false);
    if (answer.response.ok) {
      setOpen(null);
      setReason("");
      onDone();
    } else setProblem(problemText(answer.error, answer.response.status));
  };
  return (
    <section class="actions" aria-labelledby="controls-title">
      <h2 id="controls-title">Actions</h2>
      <div class="buttons" role="group" aria-label="Rollout controls">
        {allowed.map((c) => (
          <button type="button" aria-expanded={open === c} onClick={() => (setProblem(null), setOpen(open === c ? null : c))}>
            {CONTROLS[c].button}
          </button>
        ))}
      </div>
      {open && (
        <form
          class="panel"
          aria-label={`${CONTROLS[open].button.replace("…", "")} the rollout`}
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <p>{CONTROLS[open].says}</p>
          {open === "abort" && (
            <label>
              Reason (required)
              <input required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
          )}
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy}>
              {CONTROLS[open].confirm}
            </button>
            <button type="button" onClick={() => setOpen(null)}>
              Go back
            </button>
          </div>
          <ErrorBox error={problem} />
        </form>
      )}
    </section>
  );
}
