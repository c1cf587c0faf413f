// Fleet-wide history: every field change, newest first, filtered as GET /v1/history allows.
import { useState } from "preact/hooks";
import { api, type ChangeEntry } from "../api";
import { useLoad } from "../hooks";
import { Actor, ErrorBox, Link, Loading, Value, When } from "../ui";

const ENTITIES = ["", "customer", "license", "license_assignment", "release", "component_version", "tenant", "tenant_config"];

export function HistoryPage({ query }: { query: URLSearchParams }) {
  const [form, setForm] = useState({
    entity: query.get("entity") ?? "",
    entity_id: query.get("entity_id") ?? "",
    actor: query.get("actor") ?? "",
    change_request_id: query.get("change_request_id") ?? "",
    since: query.get("since") ?? "",
    until: query.get("until") ?? "",
  });
  const [more, setMore] = useState<{ items: ChangeEntry[]; next: string | null } | null>(null);
  const q = Object.fromEntries([...query.entries()].filter(([, v]) => v));
  const key = query.toString();
  const load = useLoad(async () => {
    setMore(null);
    const { data, error, response } = await api.GET("/v1/history", { params: { query: { ...q, limit: 50 } } });
    if (!data) throw new Error((error as { detail?: string })?.detail ?? `history: ${response.status}`);
    return data;
  }, [key]);
  const items = [...(load.data?.items ?? []), ...(more?.items ?? [])];
  const next = more ? more.next : (load.data?.next_token ?? null);
  const search = (e: Event) => {
    e.preventDefault();
    const p = new URLSearchParams(Object.entries(form).filter(([, v]) => v));
    location.hash = `#/history${p.size ? `?${p}` : ""}`;
  };
  const loadMore = async () => {
    if (!next) return;
    const { data } = await api.GET("/v1/history", { params: { query: { ...q, limit: 50, next_token: next } } });
    if (data) setMore({ items: [...(more?.items ?? []), ...data.items], next: data.next_token ?? null });
  };
  const field = (name: keyof typeof form, title: string, placeholder = "") => (
    <label>
      {title}
      <input value={form[name]} placeholder={placeholder} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
    </label>
  );
  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">History</h1>
      <form class="filters" onSubmit={search}>
        <label>
          Record kind
          <select value={form.entity} onChange={(e) => setForm({ ...form, entity: e.currentTarget.value })}>
            {ENTITIES.map((x) => (
              <option value={x}>{x || "Any"}</option>
            ))}
          </select>
        </label>
        {field("entity_id", "Record id")}
        {field("actor", "Actor", "alice")}
        {field("change_request_id", "Change request")}
        {field("since", "Since", "2026-12-01T00:00:00Z")}
        {field("until", "Until")}
        <button type="submit">Search the history</button>
      </form>
      <ErrorBox error={load.error} />
      {!load.data ? (
        !load.error && <Loading what="history" />
      ) : (
        <>
          <table class="list">
            <caption>{items.length} changes, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Record</th>
                <th scope="col">Field</th>
                <th scope="col">Old → new</th>
                <th scope="col">Change request</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr>
                  <td>
                    <When at={e.at} />
                  </td>
                  <td>
                    <Actor who={e.actor} />
                  </td>
                  <td>
                    {e.entity === "tenant" ? <Link to={`/tenants/${e.entity_id}`}>{e.entity_id}</Link> : `${e.entity} ${e.entity_id}`}
                  </td>
                  <td>{e.field}</td>
                  <td>
                    <Value v={e.old} /> → <Value v={e.new} />
                  </td>
                  <td>{e.change_request_id && <Link to={`/change-requests/${e.change_request_id}`}>{e.change_request_id}</Link>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button type="button" onClick={loadMore}>
              Load more changes
            </button>
          )}
        </>
      )}
    </section>
  );
}
