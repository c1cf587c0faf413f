// A tenant's metrics (GET /v1/tenants/{id}/metrics): one small chart per series over the last
// 3 hours, drawn as SVG by the page itself (no chart library, no inline style: the CSP has no
// unsafe-inline). A series without data in the window says so.
import { api, type Schemas } from "../api";
import { useLoad } from "../hooks";
import { ErrorBox, Loading } from "../ui";

type Series = Schemas["MetricSeries"];

const WIDTH = 320;
const HEIGHT = 80;

const LABELS: Record<string, string> = {
  cpu: "CPU %",
  status_check_failed: "Status check failed",
  disk_used_percent: "Disk used %",
  db_cpu: "Database CPU %",
  db_free_storage: "Database free storage (bytes)",
  app_health: "App health (1 = up)",
};

function Chart({ series, from, to }: { series: Series; from: string; to: string }) {
  const t0 = Date.parse(from);
  const t1 = Date.parse(to);
  const values = series.points.map((p) => p.value);
  const lo = Math.min(0, ...values);
  const hi = Math.max(1, ...values);
  const x = (at: string) => ((Date.parse(at) - t0) / Math.max(1, t1 - t0)) * WIDTH;
  const y = (v: number) => HEIGHT - ((v - lo) / Math.max(1e-9, hi - lo)) * HEIGHT;
  const line = series.points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const last = series.points[series.points.length - 1];
  const label = `${LABELS[series.metric] ?? series.metric} of ${series.resource}`;
  return (
    <figure class="metric">
      <figcaption>
        {label}
        {last ? `: ${Number(last.value.toPrecision(4))}` : ""}
      </figcaption>
      {series.points.length === 0 ? (
        <p class="muted">No data in this window.</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={`${label}, ${series.points.length} points`}>
          <rect class="metric-frame" x="0" y="0" width={WIDTH} height={HEIGHT} />
          <polyline class="metric-line" points={line} />
        </svg>
      )}
    </figure>
  );
}

export function Metrics({ id, rev }: { id: string; rev: string }) {
  const load = useLoad(async () => {
    const { data, response } = await api.GET("/v1/tenants/{id}/metrics", { params: { path: { id } } });
    if (!data) throw new Error(`metrics: ${response.status}`);
    return data;
  }, [id, rev]);
  if (load.error) return <ErrorBox error={load.error} />;
  if (!load.data) return <Loading what="metrics" />;
  const m = load.data;
  return (
    <>
      <h2 id="metrics">Metrics</h2>
      <p class="muted">
        The last 3 hours from CloudWatch, a point per {m.period_seconds / 60} minutes.
      </p>
      <div class="metrics">
        {m.series.map((s) => (
          <Chart series={s} from={m.from} to={m.to} />
        ))}
      </div>
    </>
  );
}
