// Rollouts, newest first (the API's order), paged with next_token: each one's operation, state,
// and its waves (the list has no members: a wave before `current_wave` is done, the current one
// runs or soaks, later ones wait; the rollout's page has the counts per wave).
import { useState } from "preact/hooks";
import { api, type Rollout } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { label } from "../lifecycle";
import { Actor, ErrorBox, Link, Loading, StatusBadge, When } from "../ui";

const PAGE = 25;

export const rolloutOver = (r: Rollout) => ["halted", "succeeded", "failed", "cancelled"].includes(r.status);

/** "upgrade to 3.2.0", "validate": what a rollout does, in words. */
export function rolloutWhat(r: Pick<Rollout, "operation" | "params">): string {
  const p = r.params ?? {};
  return `${label(r.operation)}${p.release ? ` to ${p.release}` : ""}${p.change_model ? ` (${p.change_model})` : ""}`;
}

/** Where each wave is, from the record alone: done, now (running or soaking), or waiting. */
export function WaveChips({ r }: { r: Rollout }) {
  return (
    <ol class="waves" aria-label={`Waves of ${r.id}`}>
      {r.wave_sizes.map((size, i) => {
        const where = i < r.current_wave ? "done" : i === r.current_wave && !rolloutOver(r) ? "now" : i === r.current_wave ? "stopped" : "waiting";
        return (
          <li class={`chip wave-${where}`}>
            Wave {i + 1}: {size} {size === 1 ? "tenant" : "tenants"}, {where === "now" ? (r.soak_started_at ? "soaking" : "running") : where}
          </li>
        );
      })}
    </ol>
  );
}

export function RolloutsPage({ session }: { session: Session }) {
  const [more, setMore] = useState<{ items: Rollout[]; next: string | null } | null>(null);
  const first = useLoad(
    async () => {
      const { data, response } = await api.GET("/v1/rollouts", { params: { query: { limit: PAGE } } });
      if (!data) throw new Error(`rollouts: ${response.status}`);
      return data;
    },
    [],
    5000,
  );
  const items = [...(first.data?.items ?? []), ...(more?.items ?? []).filter((r) => !(first.data?.items ?? []).some((f) => f.id === r.id))];
  const next = more ? more.next : (first.data?.next_token ?? null);
  const loadMore = async () => {
    if (!next) return;
    const { data } = await api.GET("/v1/rollouts", { params: { query: { limit: PAGE, next_token: next } } });
    if (data) setMore({ items: [...(more?.items ?? []), ...data.items], next: data.next_token ?? null });
  };
  return (
    <section aria-labelledby="rollouts-title">
      <h1 id="rollouts-title">Rollouts</h1>
      <p class="muted">One operation over a group of tenants, in waves; the next wave starts only when the gate lets it.</p>
      {session.role !== "viewer" && (
        <p>
          <Link to="/rollouts/new" class="button">
            New rollout…
          </Link>
        </p>
      )}
      <ErrorBox error={first.error} />
      {first.loading && !first.data ? (
        <Loading what="rollouts" />
      ) : items.length === 0 ? (
        <p>No rollout yet.</p>
      ) : (
        <>
          <table class="list rollouts">
            <caption>
              Rollouts, newest first: {items.length} loaded{next ? " (more to load)" : ""}
            </caption>
            <thead>
              <tr>
                <th scope="col">Rollout</th>
                <th scope="col">State</th>
                <th scope="col">Tenants</th>
                <th scope="col">Waves</th>
                <th scope="col">Requested</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr>
                  <td>
                    <Link to={`/rollouts/${r.id}`}>{rolloutWhat(r)}</Link>
                    <br />
                    <code class="muted">{r.id}</code>
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td class="num">
                    {r.tenant_count}
                    {r.refused_count > 0 && <span class="muted"> (+{r.refused_count} left out)</span>}
                  </td>
                  <td>
                    <WaveChips r={r} />
                  </td>
                  <td>
                    <When at={r.created_at} />
                    <br />
                    <Actor who={r.created_by} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button type="button" onClick={loadMore}>
              Load more rollouts
            </button>
          )}
        </>
      )}
    </section>
  );
}
