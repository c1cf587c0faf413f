// A tenant: its state and release, components against the release's manifest, configs (secrets
// only as references), AWS resources, change requests with their steps, health runs, and its
// history as a timeline. Operators and admins get the actions its state allows.
import { api, type Tenant } from "../api";
import type { Session } from "../auth";
import { can } from "../auth";
import { useLoad } from "../hooks";
import { Actor, ErrorBox, Link, Loading, StateBadge, StatusBadge, Steps, Value, When } from "../ui";
import { Actions, Rename } from "./actions";
import { TenantDrift } from "./Drift";
import { Metering } from "./Metering";
import { Metrics } from "./Metrics";

const LIVE_MS = 4000;
const HISTORY_MS = 5000;

export function TenantPage({ id, session }: { id: string; session: Session | null }) {
  // The live part: the tenant and its change requests, read again every few seconds.
  const live = useLoad(
    async () => {
      const [t, crs] = await Promise.all([
        api.GET("/v1/tenants/{id}", { params: { path: { id } } }),
        api.GET("/v1/tenants/{id}/change-requests", { params: { path: { id }, query: { limit: 20 } } }),
      ]);
      if (!t.data) throw new Error(t.response.status === 404 ? "No such tenant." : `tenant: ${t.response.status}`);
      return { tenant: t.data, changes: crs.data?.items ?? [] };
    },
    [id],
    LIVE_MS,
  );
  const tenant = live.data?.tenant;
  // The rest is read again only when the tenant's record changes (its revision).
  const rev = tenant ? `${tenant.revision}/${tenant.release}` : "";
  const drift = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/drift", { params: { path: { id } } });
    return data ?? null;
  }, [id, rev]);
  // Adopting or re-applying is offered only while the last check found drift.
  const drifted = !!drift.data?.drifted;

  if (!tenant) return live.error ? <ErrorBox error={live.error} /> : <Loading what="the tenant" />;
  return (
    <section aria-labelledby="tenant-title">
      <h1 id="tenant-title">
        {tenant.name} <StateBadge state={tenant.state} />
      </h1>
      <Summary tenant={tenant} />
      {can.act(session) && (
        <>
          <Actions tenant={tenant} onDone={live.reload} hide={drifted ? [] : ["adopt_drift", "reapply_recorded"]} />
          <Rename tenant={tenant} onDone={live.reload} />
        </>
      )}
      <h2 id="crs">Change requests</h2>
      {live.data!.changes.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <ul class="changes" aria-labelledby="crs">
          {live.data!.changes.map((c) => (
            <li>
              <Link to={`/change-requests/${c.id}`}>{c.operation.replace(/_/g, " ")}</Link> <StatusBadge status={c.status} />{" "}
              <When at={c.requested_at} /> by <Actor who={c.requested_by} />
              {c.reason && <span class="muted"> — {c.reason}</span>}
              {c.error && <p class="problem-inline">{c.error}</p>}
              {(c.steps ?? []).length > 0 && <Steps cr={c} />}
            </li>
          ))}
        </ul>
      )}
      <Components tenant={tenant} rev={rev} />
      <TenantDrift check={drift.data ?? (drift.loading ? undefined : null)} />
      <Configs id={id} rev={rev} />
      <Resources id={id} rev={rev} />
      <HealthRuns id={id} rev={rev} />
      <Backups id={id} rev={rev} />
      <Metrics id={id} rev={rev} />
      <Metering id={id} rev={rev} />
      <Timeline id={id} rev={rev} />
    </section>
  );
}

function Summary({ tenant }: { tenant: Tenant }) {
  const customer = useLoad(async () => {
    const { data } = await api.GET("/v1/customers/{id}", { params: { path: { id: tenant.customer_id } } });
    return data?.name ?? null;
  }, [tenant.customer_id]);
  return (
    <dl class="facts">
      <dt>State</dt>
      <dd>
        <StateBadge state={tenant.state} />
      </dd>
      <dt>Release</dt>
      <dd>{tenant.release}</dd>
      <dt>Customer</dt>
      <dd>{customer.data ?? tenant.customer_id}</dd>
      <dt>Region</dt>
      <dd>{tenant.region ?? "—"}</dd>
      <dt>Tags</dt>
      <dd>
        {Object.keys(tenant.tags ?? {}).length === 0
          ? "none"
          : Object.entries(tenant.tags ?? {}).map(([k, v]) => (
              <Link to={`/tenants?tags=${encodeURIComponent(`${k}:${v}`)}`} class="chip">
                {k}: {v}
              </Link>
            ))}
      </dd>
      <dt>Held by</dt>
      <dd>
        {tenant.active_change_request_id ? (
          <Link to={`/change-requests/${tenant.active_change_request_id}`}>{tenant.active_change_request_id}</Link>
        ) : (
          "no change request"
        )}
      </dd>
      <dt>Last change</dt>
      <dd>
        <When at={tenant.updated_at} /> by <Actor who={tenant.updated_by} />
      </dd>
      {tenant.description && (
        <>
          <dt>Description</dt>
          <dd>{tenant.description}</dd>
        </>
      )}
    </dl>
  );
}

function Components({ tenant, rev }: { tenant: Tenant; rev: string }) {
  const load = useLoad(async () => {
    const [c, r] = await Promise.all([
      api.GET("/v1/tenants/{id}/components", { params: { path: { id: tenant.id }, query: { limit: 500 } } }),
      api.GET("/v1/releases/{version}", { params: { path: { version: tenant.release } } }),
    ]);
    return { components: c.data?.items ?? [], manifest: r.data?.components ?? {} };
  }, [tenant.id, rev]);
  if (!load.data) return <Loading what="components" />;
  const { components, manifest } = load.data;
  const names = [...new Set([...Object.keys(manifest), ...components.map((c) => c.name)])].sort();
  return (
    <>
      <h2>Components</h2>
      <table class="list">
        <caption>Running against release {tenant.release}'s manifest</caption>
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">Running</th>
            <th scope="col">Release {tenant.release}</th>
            <th scope="col">Matches</th>
          </tr>
        </thead>
        <tbody>
          {names.map((n) => {
            const have = components.find((c) => c.name === n)?.version;
            const want = manifest[n];
            const ok = have !== undefined && have === want;
            return (
              <tr class={ok ? "" : "differs"}>
                <th scope="row">{n}</th>
                <td>{have ?? <span class="muted">not recorded</span>}</td>
                <td>{want ?? <span class="muted">not in the release</span>}</td>
                <td>{ok ? "yes" : "differs"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Configs({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/configs", { params: { path: { id }, query: { limit: 500 } } });
    return data?.items ?? [];
  }, [id, rev]);
  if (!load.data) return <Loading what="configs" />;
  return (
    <>
      <h2>Configs</h2>
      <table class="list">
        <caption>Secrets are shown as references, never as values</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
            <th scope="col">Changed</th>
          </tr>
        </thead>
        <tbody>
          {load.data.map((c) => (
            <tr>
              <th scope="row">{c.key}</th>
              <td>
                {c.secret_ref ? (
                  <>
                    <span class="badge">secret</span> <code>{c.secret_ref}</code>
                  </>
                ) : (
                  <Value v={c.value} />
                )}
              </td>
              <td>
                <When at={c.updated_at} /> by <Actor who={c.updated_by} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Resources({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/resources", { params: { path: { id }, query: { limit: 500 } } });
    return data?.items ?? [];
  }, [id, rev]);
  if (!load.data) return <Loading what="AWS resources" />;
  return (
    <>
      <h2>AWS resources</h2>
      {load.data.length === 0 ? (
        <p>None registered.</p>
      ) : (
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">ARN</th>
              <th scope="col">Resource</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((r) => (
              <tr>
                <th scope="row">{r.arn.split(":")[2] ?? ""}</th>
                <td>
                  <code>{r.arn}</code>
                </td>
                <td>
                  <code>{r.resource_id}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function HealthRuns({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/health-runs", { params: { path: { id }, query: { limit: 20 } } });
    return data?.items ?? [];
  }, [id, rev]);
  if (!load.data) return <Loading what="health runs" />;
  return (
    <>
      <h2>Health runs</h2>
      {load.data.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <ul class="health">
          {load.data.map((h) => (
            <li>
              <StatusBadge status={String(h.verdict)} /> <When at={h.finished_at} /> on {h.release} (
              <Link to={`/change-requests/${h.change_request_id}`}>change request</Link>):{" "}
              {h.suites.map((s) => (
                <span class="suite">
                  {s.suite} {s.result}
                  {s.build_url && (
                    <>
                      {" "}
                      <a href={s.build_url} rel="noreferrer">
                        build
                      </a>
                    </>
                  )}
                </span>
              ))}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** Bytes as a person reads them (1.1 GB). */
function size(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let n = bytes;
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return `${n.toFixed(n < 10 && u > 0 ? 1 : 0)} ${units[u]}`;
}

function Backups({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/backups", { params: { path: { id }, query: { limit: 20 } } });
    return data?.items ?? [];
  }, [id, rev]);
  if (!load.data) return <Loading what="backups" />;
  return (
    <>
      <h2 id="backups">Backups</h2>
      {load.data.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <table aria-labelledby="backups">
          <thead>
            <tr>
              <th scope="col">Backup</th>
              <th scope="col">Made</th>
              <th scope="col">Release</th>
              <th scope="col">Size</th>
              <th scope="col">Where</th>
            </tr>
          </thead>
          <tbody>
            {load.data.map((b) => (
              <tr>
                <td>
                  <code>{b.id}</code>
                </td>
                <td>
                  <When at={b.made_at} /> by <Actor who={b.made_by} /> (
                  <Link to={`/change-requests/${b.change_request_id}`}>change request</Link>)
                </td>
                <td>{b.release}</td>
                <td>{size(b.size_bytes)}</td>
                <td>
                  <code>{b.location}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Timeline({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data } = await api.GET("/v1/tenants/{id}/history", { params: { path: { id }, query: { limit: 100 } } });
    return data?.items ?? [];
    // The change log lands a moment after the write: read again every few seconds too.
  }, [id, rev], HISTORY_MS);
  if (!load.data) return <Loading what="history" />;
  return (
    <>
      <h2 id="timeline">History</h2>
      <ol class="timeline" aria-labelledby="timeline">
        {load.data.map((e) => (
          <li>
            <When at={e.at} /> <Actor who={e.actor} /> changed <strong>{e.entity === "tenant" ? e.field : `${e.entity_id.split("/").slice(1).join("/") || e.entity} ${e.field}`}</strong>:{" "}
            <Value v={e.old} /> → <Value v={e.new} />
            {e.change_request_id && (
              <>
                {" "}
                (<Link to={`/change-requests/${e.change_request_id}`}>{e.change_request_id}</Link>)
              </>
            )}
          </li>
        ))}
      </ol>
    </>
  );
}
