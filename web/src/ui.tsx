import type { ComponentChildren } from "preact";
import type { ChangeRequest, TenantState } from "./api";

export function Link(props: { to: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={`#${props.to}`} class={props.class}>
      {props.children}
    </a>
  );
}

export function StateBadge({ state }: { state: TenantState | string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

export function StatusBadge({ status }: { status: ChangeRequest["status"] | string }) {
  return <span class={`badge status-${status}`}>{status.replace(/_/g, " ")}</span>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })}
    </time>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="problem" role="alert">
      {error}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span class="muted">∅</span>;
  if (typeof v === "object") return <code>{JSON.stringify(v)}</code>;
  return <code>{String(v)}</code>;
}

/** Who, without the email when a sub is there: "alice <alice@x>" stays readable as is. */
export function Actor({ who }: { who: string | null | undefined }) {
  return <span class="actor">{who ?? "—"}</span>;
}

/** A step list with its progress: done / total, and each step's state. */
export function Steps({ cr }: { cr: ChangeRequest }) {
  const planned = cr.planned_steps ?? [];
  const steps = cr.steps ?? [];
  const done = steps.filter((s) => s.status === "succeeded").length;
  const total = Math.max(planned.length, steps.length);
  return (
    <div class="steps">
      {total > 0 && (
        <progress max={total} value={done} aria-label={`Steps of ${cr.id}: ${done} of ${total} done`}>
          {done}/{total}
        </progress>
      )}
      <ol>
        {steps.map((s) => (
          <li class={`step step-${s.status}`}>
            <span class="step-name">{s.name}</span> <StatusBadge status={s.status} />
            {buildUrl(s.detail) && (
              <>
                {" "}
                <a href={buildUrl(s.detail)!} rel="noreferrer">
                  Jenkins build
                </a>
              </>
            )}
            {s.error && <span class="problem-inline"> {s.error}</span>}
          </li>
        ))}
        {planned.filter((p) => !steps.some((s) => s.name === p.name)).map((p) => (
          <li class="step step-planned">
            <span class="step-name">{p.name}</span> <span class="badge">planned</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function buildUrl(detail: unknown): string | null {
  if (!detail || typeof detail !== "object") return null;
  const d = detail as Record<string, unknown>;
  const url = d.build_url ?? d.url;
  return typeof url === "string" && /^https?:\/\//.test(url) ? url : null;
}
