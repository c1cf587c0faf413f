// What the fleet runs: every release (newest first) with how many tenants run it and how far
// behind the newest available release it is, each linked to the tenant list filtered by it; then
// the component drift the API found (tenants whose recorded components differ from their
// release's manifest). One request (`GET /v1/fleet/versions`); the drift of a release's further
// tenants is one more request per page asked for, with that release and its next_token. For
// operators and admins, a release behind links to a new rollout upgrading its tenants to the newest.
import { useState } from "preact/hooks";
import { api, type FleetVersions, type Schemas } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { ErrorBox, Link, Loading } from "../ui";

type Release = Schemas["ReleaseTenants"];
type Drift = Schemas["TenantDrift"];

export function VersionsPage({ session }: { session: Session }) {
  const load = useLoad(async () => {
    const { data, response } = await api.GET("/v1/fleet/versions");
    if (!data) throw new Error(`fleet versions: ${response.status}`);
    return data;
  }, []);
  if (!load.data) return load.error ? <ErrorBox error={load.error} /> : <Loading what="the fleet's versions" />;
  return <Versions v={load.data} acts={session.role !== "viewer"} />;
}

function Versions({ v, acts }: { v: FleetVersions; acts: boolean }) {
  // Further pages of a release's tenants, read on demand: their drift, and where to go on.
  const [more, setMore] = useState<Record<string, { drifted: Drift[]; checked: number; next: string | null }>>({});
  const total = v.releases.reduce((n, r) => n + r.tenant_count, 0);
  const behind = v.releases.filter((r) => r.behind > 0).reduce((n, r) => n + r.tenant_count, 0);
  const readMore = async (r: Release) => {
    const m = more[r.version];
    const next = m ? m.next : r.next_token;
    if (!next) return;
    const { data } = await api.GET("/v1/fleet/versions", { params: { query: { release: r.version, next_token: next, limit: 100 } } });
    const page = data?.releases[0];
    if (!page) return;
    setMore({
      ...more,
      [r.version]: {
        drifted: [...(m?.drifted ?? []), ...page.drifted],
        checked: (m?.checked ?? 0) + page.tenant_ids.length,
        next: page.next_token ?? null,
      },
    });
  };
  const drifts = v.releases.flatMap((r) => [...r.drifted, ...(more[r.version]?.drifted ?? [])].map((d) => ({ release: r.version, d })));
  return (
    <section aria-labelledby="versions-title">
      <h1 id="versions-title">Fleet versions</h1>
      <p>
        {v.newest_available ? (
          <>
            Newest available release: <strong>{v.newest_available}</strong>. {behind} of {total} tenants are behind it.
          </>
        ) : (
          "No release is available."
        )}
      </p>
      <table class="list versions">
        <caption>Releases, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Release</th>
            <th scope="col">Status</th>
            <th scope="col">Tenants</th>
            <th scope="col">Behind</th>
            <th scope="col">Drifted</th>
            {acts && <th scope="col">Roll out</th>}
          </tr>
        </thead>
        <tbody>
          {v.releases.map((r) => {
            const m = more[r.version];
            const checked = r.tenant_ids.length + (m?.checked ?? 0);
            const drifted = r.drifted.length + (m?.drifted.length ?? 0);
            const next = m ? m.next : r.next_token;
            return (
              <tr class={drifted > 0 ? "differs" : undefined}>
                <th scope="row">
                  {r.tenant_count > 0 ? <Link to={`/tenants?release=${encodeURIComponent(r.version)}`}>{r.version}</Link> : r.version}
                </th>
                <td>
                  <span class={`badge release-${r.status}`}>{r.status}</span>
                </td>
                <td class="num">{r.tenant_count}</td>
                <td class="num">{r.behind === 0 ? "0" : `${r.behind} ${r.behind === 1 ? "release" : "releases"}`}</td>
                <td>
                  <span class="num-cell">{drifted}</span>
                  {next && (
                    <>
                      {" "}
                      <span class="muted">of the first {checked}</span>{" "}
                      <button type="button" onClick={() => void readMore(r)}>
                        Check more of {r.version}
                      </button>
                    </>
                  )}
                </td>
                {acts && (
                  <td>
                    {r.behind > 0 && r.tenant_count > 0 && v.newest_available && (
                      <Link to={`/rollouts/new?operation=upgrade&release=${encodeURIComponent(v.newest_available)}&on_release=${encodeURIComponent(r.version)}`}>
                        Upgrade {r.version} to {v.newest_available}…
                      </Link>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2 id="drift-title">Component drift</h2>
      {drifts.length === 0 ? (
        <p>No tenant checked differs from its release's manifest.</p>
      ) : (
        <table class="list drift" aria-labelledby="drift-title">
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Release</th>
              <th scope="col">Component</th>
              <th scope="col">Manifest</th>
              <th scope="col">Recorded</th>
            </tr>
          </thead>
          <tbody>
            {drifts.flatMap(({ release, d }) =>
              d.components.map((c, i) => (
                <tr>
                  <td>{i === 0 && <Link to={`/tenants/${d.tenant_id}`}>{d.tenant_id}</Link>}</td>
                  <td>{i === 0 && release}</td>
                  <td>{c.name}</td>
                  <td>{c.manifest ?? <span class="muted">not shipped</span>}</td>
                  <td>{c.recorded ?? <span class="muted">none recorded</span>}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </section>
  );
}
