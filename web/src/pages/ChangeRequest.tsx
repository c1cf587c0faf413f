// A change request: its plan (the steps stored at begin), the steps run so far (with their
// Jenkins builds and errors), who requested and decided it, and the execution it runs as.
// Read again every 2 s while it is not finished.
import { api } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { Actor, ErrorBox, Link, Loading, StatusBadge, Steps, When } from "../ui";
import { Decisions } from "./actions";

const FINISHED = ["succeeded", "failed", "cancelled", "rejected"];

export function ChangeRequestPage({ id, session }: { id: string; session: Session | null }) {
  const load = useLoad(
    async () => {
      const { data, response } = await api.GET("/v1/change-requests/{id}", { params: { path: { id } } });
      if (!data) throw new Error(response.status === 404 ? "No such change request." : `change request: ${response.status}`);
      return data;
    },
    [id],
    2000,
  );
  const cr = load.data;
  const tenantId = cr?.tenant_id;
  const tenant = useLoad(async () => {
    if (!tenantId) return null;
    const { data } = await api.GET("/v1/tenants/{id}", { params: { path: { id: tenantId } } });
    return data?.name ?? null;
  }, [tenantId]);
  if (!cr) return load.error ? <ErrorBox error={load.error} /> : <Loading what="the change request" />;
  const done = FINISHED.includes(cr.status);
  const params = cr.params ?? {};
  return (
    <section aria-labelledby="cr-title">
      <h1 id="cr-title">
        {cr.operation.replace(/_/g, " ")} <StatusBadge status={cr.status} />
      </h1>
      <p class="muted" aria-live="polite">
        {done ? "Finished." : "In progress: this page refreshes itself."}
      </p>
      <dl class="facts">
        <dt>Change request</dt>
        <dd>
          <code>{cr.id}</code>
        </dd>
        <dt>Tenant</dt>
        <dd>
          <Link to={`/tenants/${cr.tenant_id}`}>{tenant.data ?? cr.tenant_id}</Link>
        </dd>
        <dt>Requested</dt>
        <dd>
          <When at={cr.requested_at} /> by <Actor who={cr.requested_by} />
        </dd>
        {cr.reason && (
          <>
            <dt>Reason</dt>
            <dd>{cr.reason}</dd>
          </>
        )}
        <dt>Params</dt>
        <dd>
          {cr.change_model && <>change model {cr.change_model} </>}
          {params.release && <>release {params.release} </>}
          {params.backup_id && <>backup {params.backup_id}</>}
          {!cr.change_model && !params.release && !params.backup_id && "none"}
        </dd>
        <dt>Started from</dt>
        <dd>{cr.started_from ?? "—"}</dd>
        {cr.decided_by && (
          <>
            <dt>Decided</dt>
            <dd>
              <When at={cr.decided_at} /> by <Actor who={cr.decided_by} />
            </dd>
          </>
        )}
        {cr.aborted_by && (
          <>
            <dt>Aborted</dt>
            <dd>
              by <Actor who={cr.aborted_by} />: {cr.abort_reason}
            </dd>
          </>
        )}
        <dt>Execution</dt>
        <dd>{cr.execution_arn ? <code>{cr.execution_arn}</code> : "not started"}</dd>
        <dt>Deadline</dt>
        <dd>
          <When at={cr.deadline_at} />
        </dd>
      </dl>
      {cr.error && (
        <p class="problem" role="alert">
          {cr.error}
        </p>
      )}
      <Decisions cr={cr} session={session} onDone={load.reload} />
      <h2>Plan</h2>
      {(cr.planned_steps ?? []).length === 0 ? (
        <p>The plan is stored when the execution begins.</p>
      ) : (
        <ol class="plan">
          {(cr.planned_steps ?? []).map((p) => (
            <li>
              {p.name}{" "}
              <span class="muted">
                {p.kind === "jenkins" ? `Jenkins job ${p.job}` : p.kind === "ssm" ? `playbook ${p.playbook}` : `to ${p.to}`}
              </span>
            </li>
          ))}
        </ol>
      )}
      <h2 id="steps-title">Steps</h2>
      {(cr.steps ?? []).length === 0 && (cr.planned_steps ?? []).length === 0 ? <p>No step has run.</p> : <Steps cr={cr} />}
    </section>
  );
}
