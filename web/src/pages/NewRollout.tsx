// A new rollout, for operators and admins: the operation and its params, the selector, the waves
// and the gate. A dry run comes first (`POST /v1/rollouts/plan`, which writes nothing): the plan
// shows the tenants of each wave and every selected tenant left out, with why; only then is
// "Start the rollout" offered, for exactly the body planned (an edit asks for a new dry run).
// A refusal (409, 422...) is shown as its problem detail next to the form.
import { useState } from "preact/hooks";
import { api, idempotencyKey, problemText, type ChangeModel, type Operation, type PlannedTenant, type RolloutCreate, type RolloutPlan, type TenantState } from "../api";
import { useLoad } from "../hooks";
import { label, shapeOf } from "../lifecycle";
import { ErrorBox, Link, StateBadge, When } from "../ui";
import table from "../generated/lifecycle.json";

const STATES = Object.keys(table.allowed_from) as TenantState[];
/** What a rollout may run: not one creating a tenant, needing a second admin, or an alarm's. */
const OPERATIONS = (Object.keys(table.operations) as Operation[]).filter((op) => {
  const s = shapeOf(op);
  return op !== "provision" && !s.by_alarms_only && !s.needs_approval && !s.takes_backup;
});

interface Fields {
  operation: Operation;
  release: string;
  model: ChangeModel | "";
  allowDowngrade: boolean;
  state: TenantState | "";
  onRelease: string;
  customer: string;
  tags: string;
  tenantIds: string;
  waves: string;
  maxFailures: string;
  soak: string;
  concurrency: string;
  reason: string;
}

const START: Fields = {
  operation: "validate",
  release: "",
  model: "",
  allowDowngrade: false,
  state: "",
  onRelease: "",
  customer: "",
  tags: "",
  tenantIds: "",
  waves: "1, 10",
  maxFailures: "0",
  soak: "0",
  concurrency: "10",
  reason: "",
};

/** The request body from the form, or the field that does not parse. */
function bodyOf(f: Fields): { body: RolloutCreate } | { problem: string } {
  const shape = shapeOf(f.operation);
  const waves = f.waves.split(/[\s,]+/).filter(Boolean).map(Number);
  if (waves.length === 0 || waves.some((n) => !Number.isInteger(n) || n < 1)) return { problem: "Waves: whole numbers of tenants, 1 or more, such as 1, 10, 50." };
  const tags: Record<string, string> = {};
  for (const pair of f.tags.split(",").map((t) => t.trim()).filter(Boolean)) {
    const [k, ...v] = pair.split(":");
    if (!k || v.length === 0) return { problem: `Tags: "${pair}" is not key:value.` };
    tags[k.trim()] = v.join(":").trim();
  }
  const ids = f.tenantIds.split(/[\s,]+/).filter(Boolean);
  const params: RolloutCreate["params"] = {};
  if (shape.takes_release) {
    if (!f.release) return { problem: "Choose the release to upgrade to." };
    params.release = f.release;
    if (f.allowDowngrade) params.allow_downgrade = true;
  }
  if (shape.models.length > 1 && f.model) params.change_model = f.model;
  const body: RolloutCreate = {
    operation: f.operation,
    params,
    reason: f.reason || null,
    selector: {
      ...(f.state ? { state: f.state } : {}),
      ...(f.onRelease ? { release: f.onRelease } : {}),
      ...(f.customer ? { customer_id: f.customer } : {}),
      ...(Object.keys(tags).length ? { tags } : {}),
      ...(ids.length ? { tenant_ids: ids } : {}),
    },
    waves,
    max_failures: Number(f.maxFailures || 0),
    soak_seconds: Number(f.soak || 0),
    concurrency: Number(f.concurrency || 10),
  };
  return { body };
}

function why(t: PlannedTenant): string {
  const n = t.not_run;
  if (!n) return "not said";
  switch (n.reason) {
    case "state":
      return `its state (${n.state}) does not allow it`;
    case "busy":
      return `busy: change request ${n.change_request_id} holds it`;
    case "downgrade":
      return `a downgrade (${n.from} → ${n.to}), not allowed`;
    case "same_release":
      return `it already runs ${n.release}`;
    case "not_licensed":
      return `none of its customer's active licenses covers ${n.release} (${n.licenses.join(", ")})`;
  }
}

/** The form's first values: START, with what the link that opened it says (`operation`,
 * `release`, `on_release`, `state`), as the versions page's "Upgrade to…" links do. */
function startFrom(query: URLSearchParams): Fields {
  const op = query.get("operation") as Operation | null;
  const state = query.get("state") as TenantState | null;
  return {
    ...START,
    operation: op && OPERATIONS.includes(op) ? op : START.operation,
    release: query.get("release") ?? "",
    onRelease: query.get("on_release") ?? "",
    state: state && STATES.includes(state) ? state : "",
  };
}

export function NewRolloutPage({ query }: { query: URLSearchParams }) {
  const [f, setF] = useState<Fields>(() => startFrom(query));
  const [plan, setPlan] = useState<{ plan: RolloutPlan; body: RolloutCreate; key: string } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const shape = shapeOf(f.operation);
  const lookups = useLoad(async () => {
    const [c, r] = await Promise.all([
      api.GET("/v1/customers", { params: { query: { limit: 500 } } }),
      api.GET("/v1/releases", { params: { query: { limit: 500 } } }),
    ]);
    return { customers: c.data?.items ?? [], releases: r.data?.items ?? [] };
  }, []);
  // Any edit makes the plan stale: it is dropped, and a new dry run is asked for.
  const set = <K extends keyof Fields>(k: K, v: Fields[K]) => {
    setF({ ...f, [k]: v });
    setPlan(null);
  };

  const dryRun = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    setPlan(null);
    const parsed = bodyOf(f);
    if ("problem" in parsed) return setProblem(parsed.problem);
    setBusy(true);
    const { data, error, response } = await api.POST("/v1/rollouts/plan", { body: parsed.body });
    setBusy(false);
    if (data) setPlan({ plan: data, body: parsed.body, key: idempotencyKey() });
    else setProblem(problemText(error, response.status));
  };

  const start = async () => {
    if (!plan) return;
    setProblem(null);
    setBusy(true);
    const { data, error, response } = await api.POST("/v1/rollouts", {
      headers: { "idempotency-key": plan.key },
      body: plan.body,
    });
    setBusy(false);
    if (data && response.status === 202) location.hash = `#/rollouts/${data.id}`;
    else setProblem(problemText(error, response.status));
  };

  // The release selects get their options once the releases are read: each option says whether
  // it is the one chosen, so a value given by the link that opened the form holds.
  const releases = (lookups.data?.releases ?? []).map((r) => r.version);
  return (
    <section aria-labelledby="new-rollout-title">
      <p>
        <Link to="/rollouts">Rollouts</Link>
      </p>
      <h1 id="new-rollout-title">New rollout</h1>
      <form class="panel wide" onSubmit={dryRun} aria-label="New rollout">
        <fieldset>
          <legend>What</legend>
          <label>
            Operation
            <select value={f.operation} onChange={(e) => {
                setPlan(null);
                setF({ ...f, operation: e.currentTarget.value as Operation, model: "" });
              }}>
              {OPERATIONS.map((op) => (
                <option value={op}>{label(op)}</option>
              ))}
            </select>
          </label>
          {shape.takes_release && (
            <>
              <label>
                Release to upgrade to
                <select required value={f.release} onChange={(e) => set("release", e.currentTarget.value)}>
                  <option value="">Choose a release</option>
                  {releases.map((v) => (
                    <option value={v} selected={v === f.release}>
                      {v}
                    </option>
                  ))}
                </select>
              </label>
              <label class="check">
                <input type="checkbox" checked={f.allowDowngrade} onChange={(e) => set("allowDowngrade", e.currentTarget.checked)} />
                Allow going back to an older release
              </label>
            </>
          )}
          {shape.models.length > 1 && (
            <label>
              Change model
              <select value={f.model} onChange={(e) => set("model", e.currentTarget.value as ChangeModel)}>
                <option value="">The operation's default ({shape.default_model})</option>
                {shape.models.map((m) => (
                  <option value={m}>{m}</option>
                ))}
              </select>
            </label>
          )}
          <label>
            Reason (ticket, incident)
            <input value={f.reason} onInput={(e) => set("reason", e.currentTarget.value)} />
          </label>
        </fieldset>
        <fieldset>
          <legend>Over which tenants (all that are given must hold)</legend>
          <label>
            State
            <select value={f.state} onChange={(e) => set("state", e.currentTarget.value as TenantState | "")}>
              <option value="">Any</option>
              {STATES.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            On release
            <select value={f.onRelease} onChange={(e) => set("onRelease", e.currentTarget.value)}>
              <option value="">Any</option>
              {releases.map((v) => (
                <option value={v} selected={v === f.onRelease}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          <label>
            Customer
            <select value={f.customer} onChange={(e) => set("customer", e.currentTarget.value)}>
              <option value="">Any</option>
              {(lookups.data?.customers ?? []).map((c) => (
                <option value={c.id}>{c.name}</option>
              ))}
            </select>
          </label>
          <label>
            Tags (key:value, comma separated)
            <input value={f.tags} placeholder="env:prod, tier:gold" onInput={(e) => set("tags", e.currentTarget.value)} />
          </label>
          <label>
            Tenant ids (these, in this order)
            <textarea rows={2} value={f.tenantIds} onInput={(e) => set("tenantIds", e.currentTarget.value)} />
          </label>
        </fieldset>
        <fieldset>
          <legend>Waves and gate</legend>
          <label>
            Wave sizes (the last takes the rest)
            <input required value={f.waves} onInput={(e) => set("waves", e.currentTarget.value)} />
          </label>
          <label>
            Failures allowed per wave
            <input type="number" min={0} max={10000} value={f.maxFailures} onInput={(e) => set("maxFailures", e.currentTarget.value)} />
          </label>
          <label>
            Soak (seconds without an alarm before the next wave)
            <input type="number" min={0} max={86400} value={f.soak} onInput={(e) => set("soak", e.currentTarget.value)} />
          </label>
          <label>
            Change requests at once within a wave
            <input type="number" min={1} max={100} value={f.concurrency} onInput={(e) => set("concurrency", e.currentTarget.value)} />
          </label>
        </fieldset>
        <div class="buttons">
          <button type="submit" class={plan ? undefined : "primary"} disabled={busy}>
            Dry run
          </button>
        </div>
        <ErrorBox error={problem} />
      </form>
      {plan && <PlanView plan={plan.plan} />}
      {plan && (
        <div class="buttons">
          <button type="button" class="primary" disabled={busy || plan.plan.would_run === 0} onClick={() => void start()}>
            Start the rollout
          </button>
          {plan.plan.would_run === 0 && <span class="note">No selected tenant would run: there is nothing to start.</span>}
        </div>
      )}
    </section>
  );
}

function PlanView({ plan }: { plan: RolloutPlan }) {
  const left = plan.tenants.filter((t) => !t.would_run);
  return (
    <section aria-labelledby="plan-title" aria-live="polite">
      <h2 id="plan-title">Dry run: the plan</h2>
      <p>
        {label(plan.operation)}: {plan.selected} selected, {plan.would_run} would run in {plan.wave_sizes.length}{" "}
        {plan.wave_sizes.length === 1 ? "wave" : "waves"} ({plan.wave_sizes.join(", ")}), {plan.refused} left out. Nothing was written.
      </p>
      {plan.wave_sizes.map((size, i) => (
        <table class="list plan-wave">
          <caption>
            Wave {i + 1}: {size} {size === 1 ? "tenant" : "tenants"}
          </caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">State</th>
              <th scope="col">Release</th>
              <th scope="col">Its change request</th>
            </tr>
          </thead>
          <tbody>
            {plan.tenants
              .filter((t) => t.would_run && t.wave === i)
              .map((t) => (
                <tr>
                  <td>
                    <Link to={`/tenants/${t.tenant_id}`}>{t.name}</Link>
                  </td>
                  <td>
                    <StateBadge state={t.state} />
                  </td>
                  <td>{t.release}</td>
                  <td>
                    {t.plan && (
                      <>
                        through {t.plan.through.length ? t.plan.through.join(" → ") : "no state change"}, then{" "}
                        {typeof t.plan.on_success === "string" ? "as it started" : t.plan.on_success.state}
                        {t.plan.validates ? ", validated" : ""}
                      </>
                    )}
                    {t.upgrade && (
                      <>
                        {" "}
                        · {t.upgrade.from_release} → {t.upgrade.to_release}: {t.upgrade.components.length} components change
                        {t.upgrade.components.length > 0 && ` (${t.upgrade.components.map((c) => `${c.name} ${c.from ?? "new"} → ${c.to}`).join(", ")})`}
                      </>
                    )}
                    {t.waits_for_window && (
                      <span class="waits-for-window">
                        {" "}
                        · waits for its maintenance window, which opens <When at={t.waits_for_window} /> (and so does its wave)
                      </span>
                    )}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      ))}
      {left.length > 0 && (
        <table class="list plan-left-out">
          <caption>Left out: {left.length} selected tenants that would not run, with why</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">State</th>
              <th scope="col">Why not</th>
            </tr>
          </thead>
          <tbody>
            {left.map((t) => (
              <tr>
                <td>
                  <Link to={`/tenants/${t.tenant_id}`}>{t.name}</Link>
                </td>
                <td>
                  <StateBadge state={t.state} />
                </td>
                <td>{why(t)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
