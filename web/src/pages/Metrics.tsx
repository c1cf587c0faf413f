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

/** A line over [from, to] (one small SVG): the pattern the tenant page's charts share. */
export function Chart(props: { label: string; points: { at: string; value: number }[]; from: string; to: string; empty?: string; format?: (v: number) => string }) {
  const { label, points, from, to } = props;
  const t0 = Date.parse(from);
  const t1 = Date.parse(to);
  const values = points.map((p) => p.value);
  const lo = Math.min(0, ...values);
  const hi = Math.max(1, ...values);
  const x = (at: string) => ((Date.parse(at) - t0) / Math.max(1, t1 - t0)) * WIDTH;
  const y = (v: number) => HEIGHT - ((v - lo) / Math.max(1e-9, hi - lo)) * HEIGHT;
  const line = points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const last = points[points.length - 1];
  const format = props.format ?? ((v: number) => String(Number(v.toPrecision(4))));
  return (
    <figure class="metric">
      <figcaption>
        {label}
        {last ? `: ${format(last.value)}` : ""}
      </figcaption>
      {points.length === 0 ? (
        <p class="muted">{props.empty ?? "No data in this window."}</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} width={WIDTH} height={HEIGHT} role="img" aria-label={`${label}, ${points.length} points`}>
          <rect class="metric-frame" x="0" y="0" width={WIDTH} height={HEIGHT} />
          <polyline class="metric-line" points={line} />
          {last && <circle class="metric-dot" cx={x(last.at).toFixed(1)} cy={y(last.value).toFixed(1)} r="2.5" />}
        </svg>
      )}
    </figure>
  );
}

function SeriesChart({ series, from, to }: { series: Series; from: string; to: string }) {
  return <Chart label={`${LABELS[series.metric] ?? series.metric} of ${series.resource}`} points={series.points} from={from} to={to} />;
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
          <SeriesChart series={s} from={m.from} to={m.to} />
        ))}
      </div>
    </>
  );
}
