// The tenant list: filters the API takes (state, customer, release, tags), pages by next_token,
// and a search by name over the rows loaded (the API has no name search).
import { useState } from "preact/hooks";
import { api, type Tenant, type TenantState } from "../api";
import { useLoad } from "../hooks";
import { ErrorBox, Link, Loading, StateBadge } from "../ui";
import table from "../generated/lifecycle.json";

const STATES = Object.keys(table.allowed_from) as TenantState[];

function go(params: Record<string, string>) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  location.hash = `#/tenants${q.size ? `?${q}` : ""}`;
}

export function TenantsPage({ query }: { query: URLSearchParams }) {
  const state = query.get("state") ?? "";
  const customer = query.get("customer_id") ?? "";
  const release = query.get("release") ?? "";
  const tags = query.get("tags") ?? "";
  const [tagsInput, setTagsInput] = useState(tags);
  const [search, setSearch] = useState("");
  const [more, setMore] = useState<{ items: Tenant[]; next: string | null } | null>(null);

  const lookups = useLoad(async () => {
    const [c, r] = await Promise.all([
      api.GET("/v1/customers", { params: { query: { limit: 500 } } }),
      api.GET("/v1/releases", { params: { query: { limit: 500 } } }),
    ]);
    return { customers: c.data?.items ?? [], releases: r.data?.items ?? [] };
  }, []);

  const list = useLoad(async () => {
    setMore(null);
    const { data, error, response } = await api.GET("/v1/tenants", {
      params: {
        query: {
          state: (state || undefined) as TenantState | undefined,
          customer_id: customer || undefined,
          release: release || undefined,
          tags: tags || undefined,
          limit: 50,
        },
      },
    });
    if (!data) throw new Error((error as { detail?: string })?.detail ?? `tenants: ${response.status}`);
    return data;
  }, [state, customer, release, tags]);

  const items = [...(list.data?.items ?? []), ...(more?.items ?? [])];
  const next = more ? more.next : (list.data?.next_token ?? null);
  const shown = search ? items.filter((t) => t.name.toLowerCase().includes(search.toLowerCase())) : items;
  const customerName = new Map((lookups.data?.customers ?? []).map((c) => [c.id, c.name]));

  const loadMore = async () => {
    if (!next) return;
    const { data } = await api.GET("/v1/tenants", {
      params: {
        query: {
          state: (state || undefined) as TenantState | undefined,
          customer_id: customer || undefined,
          release: release || undefined,
          tags: tags || undefined,
          limit: 50,
          next_token: next,
        },
      },
    });
    if (data) setMore({ items: [...(more?.items ?? []), ...data.items], next: data.next_token ?? null });
  };

  return (
    <section aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          go({ state, customer_id: customer, release, tags: tagsInput.split(",").map((t) => t.trim().replace(/\s*:\s*/, ":")).filter(Boolean).join(",") });
        }}
      >
        <label>
          State
          <select value={state} onChange={(e) => go({ state: e.currentTarget.value, customer_id: customer, release, tags })}>
            <option value="">Any</option>
            {STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Customer
          <select value={customer} onChange={(e) => go({ state, customer_id: e.currentTarget.value, release, tags })}>
            <option value="">Any</option>
            {(lookups.data?.customers ?? []).map((c) => (
              <option value={c.id}>{c.name}</option>
            ))}
          </select>
        </label>
        <label>
          Release
          <select value={release} onChange={(e) => go({ state, customer_id: customer, release: e.currentTarget.value, tags })}>
            <option value="">Any</option>
            {(lookups.data?.releases ?? []).map((r) => (
              <option value={r.version}>{r.version}</option>
            ))}
          </select>
        </label>
        <label>
          Tags (key:value, comma separated)
          <input value={tagsInput} placeholder="env:prod" onInput={(e) => setTagsInput(e.currentTarget.value)} />
        </label>
        <button type="submit">Apply the tags</button>
        <label>
          Name
          <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="Search loaded tenants" />
        </label>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading what="tenants" />
      ) : (
        <>
          <table class="list">
            <caption>
              {shown.length} of {items.length} loaded{next ? " (more to load)" : ""}
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Release</th>
                <th scope="col">Customer</th>
                <th scope="col">Region</th>
                <th scope="col">Change request</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((t) => (
                <tr>
                  <td>
                    <Link to={`/tenants/${t.id}`}>{t.name}</Link>
                  </td>
                  <td>
                    <StateBadge state={t.state} />
                  </td>
                  <td>{t.release}</td>
                  <td>{customerName.get(t.customer_id) ?? t.customer_id}</td>
                  <td>{t.region ?? ""}</td>
                  <td>
                    {t.active_change_request_id && (
                      <Link to={`/change-requests/${t.active_change_request_id}`}>{t.active_change_request_id}</Link>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button type="button" onClick={loadMore}>
              Load more tenants
            </button>
          )}
        </>
      )}
    </section>
  );
}
