// A tenant's metering (GET /v1/tenants/{id}/metering, the API's default window: the last 30
// days): one sample a day from the `metering` schedule, as the tenant's Update Manager reported
// it, drawn as the metrics are (users, assets, data volume). No samples: it says so.
import { api } from "../api";
import { useLoad } from "../hooks";
import { ErrorBox, Loading, When } from "../ui";
import { Chart } from "./Metrics";

export function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

export function Metering({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data, response } = await api.GET("/v1/tenants/{id}/metering", { params: { path: { id } } });
    if (!data) throw new Error(`metering: ${response.status}`);
    return data;
  }, [id, rev]);
  if (load.error) return <ErrorBox error={load.error} />;
  if (!load.data) return <Loading what="metering" />;
  const m = load.data;
  const samples = m.samples;
  const series = (pick: (s: (typeof samples)[number]) => number) => samples.map((s) => ({ at: s.at, value: pick(s) }));
  return (
    <>
      <h2 id="metering">Metering</h2>
      <p class="muted">
        From <When at={m.from} /> to <When at={m.to} />: one sample a day from the tenant's Update Manager ({samples.length}{" "}
        {samples.length === 1 ? "sample" : "samples"}).
      </p>
      {samples.length === 0 ? (
        <p class="metering-empty">No metering samples in the last 30 days.</p>
      ) : (
        <div class="metrics metering" aria-labelledby="metering">
          <Chart label="Users" points={series((s) => s.users)} from={m.from} to={m.to} />
          <Chart label="Assets" points={series((s) => s.assets)} from={m.from} to={m.to} />
          <Chart label="Data volume" points={series((s) => s.data_bytes)} from={m.from} to={m.to} format={bytes} />
        </div>
      )}
    </>
  );
}
