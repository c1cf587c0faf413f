// Drift: what tenants' boxes really run against what the registry records of them (component
// versions, non-secret configs), as the daily `drift` schedule last read them.
//   - the fleet page: GET /v1/fleet/drift (the tenants whose box differs, one Query of a sparse
//     index), the tenants named from one read of the tenant list (not one read per row);
//   - a tenant's section: GET /v1/tenants/{id}/drift, its last check.
// Drift is only reported: "Adopt drift" and "Re-apply recorded" are change requests.
import { api, type Schemas } from "../api";
import { useLoad } from "../hooks";
import { ErrorBox, Link, Loading, Value, When } from "../ui";

export type DriftReport = Schemas["DriftReport"];
export type Drifted = Schemas["Drifted"];

/** One difference in words: `webapp runs 3.1.1-hotfix (recorded 3.1.0)`. */
export function driftText(d: Drifted): string {
  const side = (v: unknown) => (v === null || v === undefined ? "nothing" : String(v));
  return `${d.kind} ${d.name} runs ${side(d.live)} (recorded ${side(d.recorded)})`;
}

export function DriftPage() {
  const load = useLoad(async () => {
    const items: DriftReport[] = [];
    let next: string | undefined;
    for (let i = 0; i < 10; i++) {
      const { data, response } = await api.GET("/v1/fleet/drift", { params: { query: { limit: 100, next_token: next } } });
      if (!data) throw new Error(`fleet drift: ${response.status}`);
      items.push(...data.items);
      next = data.next_token ?? undefined;
      if (!next) break;
    }
    const tenants = await api.GET("/v1/tenants", { params: { query: { limit: 500 } } });
    return { items, more: !!next, names: new Map((tenants.data?.items ?? []).map((t) => [t.id, t.name])) };
  }, []);

  return (
    <section aria-labelledby="drift-page-title">
      <h1 id="drift-page-title">Drift</h1>
      <p class="muted">
        Tenants whose box runs what their record does not say, at the box's last check (the <code>drift</code> schedule reads every
        running tenant's once a day). Drift is never fixed on its own: a tenant's page adopts it or re-applies the record.
      </p>
      <ErrorBox error={load.error} />
      {!load.data ? (
        <Loading what="drift" />
      ) : load.data.items.length === 0 ? (
        <p>No box differs from its record.</p>
      ) : (
        <table class="list" aria-labelledby="drift-table-title">
          <caption id="drift-table-title">Drifted tenants ({load.data.items.length}{load.data.more ? "+" : ""})</caption>
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Release</th>
              <th scope="col">Checked</th>
              <th scope="col">Differences</th>
            </tr>
          </thead>
          <tbody>
            {load.data.items.map((r) => (
              <tr data-tenant={r.tenant_id}>
                <td>
                  <Link to={`/tenants/${r.tenant_id}`}>{load.data!.names.get(r.tenant_id) ?? r.tenant_id}</Link>
                </td>
                <td>{r.release}</td>
                <td>
                  <When at={r.checked_at} />
                </td>
                <td>
                  <ul class="plain">
                    {r.drifted.map((d) => (
                      <li>{driftText(d)}</li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A tenant's last drift check, as its page shows it. */
export function TenantDrift({ check }: { check: Schemas["TenantDriftCheck"] | null | undefined }) {
  if (check === undefined) return <Loading what="drift" />;
  const last = check?.last_check ?? null;
  return (
    <>
      <h2 id="drift">Drift</h2>
      {!last ? (
        <p>Its box was never checked.</p>
      ) : last.drifted.length === 0 ? (
        <p>
          Its box ran what its record says when checked <When at={last.checked_at} />.
        </p>
      ) : (
        <>
          <p>
            Its box differed from its record when checked <When at={last.checked_at} />.
          </p>
          <table aria-labelledby="drift">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Name</th>
                <th scope="col">Recorded</th>
                <th scope="col">On the box</th>
              </tr>
            </thead>
            <tbody>
              {last.drifted.map((d) => (
                <tr data-drift={d.name}>
                  <td>{d.kind}</td>
                  <td>
                    <code>{d.name}</code>
                  </td>
                  <td>{d.recorded === null || d.recorded === undefined ? <span class="muted">not recorded</span> : <Value v={d.recorded} />}</td>
                  <td>{d.live === null || d.live === undefined ? <span class="muted">absent</span> : <Value v={d.live} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {last && (last.ignored ?? []).length > 0 && (
        <p class="muted">Not read from the box: {(last.ignored ?? []).map((i) => `${i.field} (${i.reason})`).join("; ")}.</p>
      )}
    </>
  );
}
