// The licenses expiring (GET /v1/licenses/expiring?days=N): the active assignments expiring by
// the end of that UTC day, overdue ones first, as the API orders them. Customers and licenses are
// named from one read of each list (not one read per row), each customer linked to its tenants.
import { api, type Schemas } from "../api";
import { useLoad } from "../hooks";
import { ErrorBox, Link, Loading, When } from "../ui";

export type Assignment = Schemas["LicenseAssignment"];

export const DAYS = [7, 30, 90] as const;
const DAY_MS = 24 * 3600 * 1000;

/** Whole days from now to `at` (negative: overdue), rounded up: "expires in 1 day" until it does. */
export function daysLeft(at: string, now = Date.now()): number {
  const ms = Date.parse(at) - now;
  return ms < 0 ? -Math.ceil(-ms / DAY_MS) : Math.ceil(ms / DAY_MS);
}

export function daysLeftText(at: string): string {
  const d = daysLeft(at);
  const n = Math.abs(d);
  const words = `${n} ${n === 1 ? "day" : "days"}`;
  return d < 0 ? `overdue by ${words}` : words;
}

export function LicensesPage({ query }: { query: URLSearchParams }) {
  const asked = Number(query.get("days") ?? 30);
  const days = (DAYS as readonly number[]).includes(asked) ? asked : 30;
  const load = useLoad(async () => {
    const items: Assignment[] = [];
    let next: string | undefined;
    // The API pages at 500 at most; a handful of pages at worst for 90 days.
    for (let i = 0; i < 10; i++) {
      const { data, response } = await api.GET("/v1/licenses/expiring", { params: { query: { days, limit: 500, next_token: next } } });
      if (!data) throw new Error(`licenses expiring: ${response.status}`);
      items.push(...data.items);
      next = data.next_token ?? undefined;
      if (!next) break;
    }
    const [customers, licenses] = await Promise.all([
      api.GET("/v1/customers", { params: { query: { limit: 500 } } }),
      api.GET("/v1/licenses", { params: { query: { limit: 500 } } }),
    ]);
    return {
      items,
      customers: new Map((customers.data?.items ?? []).map((c) => [c.id, c.name])),
      licenses: new Map((licenses.data?.items ?? []).map((l) => [l.id, `${l.name} (${l.kind})`])),
    };
  }, [days]);

  return (
    <section aria-labelledby="licenses-title">
      <h1 id="licenses-title">Licenses expiring</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Within{" "}
          <select value={String(days)} onChange={(e) => (location.hash = `#/licenses?days=${e.currentTarget.value}`)}>
            {DAYS.map((d) => (
              <option value={String(d)}>{d} days</option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBox error={load.error} />
      {!load.data ? (
        !load.error && <Loading what="the licenses expiring" />
      ) : load.data.items.length === 0 ? (
        <p>No active license expires within {days} days.</p>
      ) : (
        <table class="list licenses">
          <caption>
            Active assignments expiring within {days} days ({load.data.items.length}), overdue first
          </caption>
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">License</th>
              <th scope="col">Assignment</th>
              <th scope="col">Expires</th>
              <th scope="col">Days left</th>
            </tr>
          </thead>
          <tbody>
            {load.data.items.map((a) => (
              <tr data-assignment={a.id}>
                <td>
                  <Link to={`/tenants?customer_id=${encodeURIComponent(a.customer_id)}`}>{load.data!.customers.get(a.customer_id) ?? a.customer_id}</Link>
                </td>
                <td>{load.data!.licenses.get(a.license_id) ?? a.license_id}</td>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>
                  <When at={a.expires_at} />
                </td>
                <td class={`num${a.expires_at && daysLeft(a.expires_at) < 0 ? " problem-inline" : ""}`}>
                  {a.expires_at ? daysLeftText(a.expires_at) : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
