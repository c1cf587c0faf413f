// A change request: its plan (the steps stored at begin), the steps run so far (with their
// Jenkins builds and errors), who requested and decided it, and the execution it runs as.
// Read again every 2 s while it is not finished.
import { api, type Schemas } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { Actor, ErrorBox, Link, Loading, StatusBadge, Steps, When } from "../ui";
import { Decisions } from "./actions";

const FINISHED = ["succeeded", "failed", "cancelled", "rejected"];

/** The rollout a change request was made by (its requester is `system:rollout:<id>`), if any. */
const rolloutOf = (by: string) => /^(?:system:)?rollout:(rol_[0-9A-HJKMNP-TV-Z]{26})\b/.exec(by)?.[1] ?? null;

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
        {rolloutOf(cr.requested_by) && (
          <>
            <dt>Rollout</dt>
            <dd>
              <Link to={`/rollouts/${rolloutOf(cr.requested_by)}`}>part of rollout {rolloutOf(cr.requested_by)}</Link>
            </dd>
          </>
        )}
        {cr.reason && (
          <>
            <dt>Reason</dt>
            <dd>{cr.reason}</dd>
          </>
        )}
        {cr.recorded_before && (
          <>
            <dt>Recorded before</dt>
            <dd>release {cr.recorded_before.release}</dd>
          </>
        )}
        <dt>Params</dt>
        <dd>
          {cr.change_model && <>change model {cr.change_model} </>}
          {params.release && <>release {params.release} </>}
          {params.backup_id && <>backup {params.backup_id} </>}
          {params.allow_downgrade && <>downgrade allowed </>}
          {params.snapshot === false && <>no snapshot</>}
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
      {cr.upgrade && <UpgradePlan plan={cr.upgrade} />}
      <h2>Plan</h2>
      {(cr.planned_steps ?? []).length === 0 ? (
        <p>The plan is stored when the execution begins.</p>
      ) : (
        <ol class="plan">
          {(cr.planned_steps ?? []).map((p, i) => (
            <li>
              {i === cr.rollback_from && <strong>Rollback: </strong>}
              {p.name}{" "}
              <span class="muted">
                {p.kind === "jenkins"
                  ? `Jenkins job ${p.job}${p.backup ? " (full backup)" : ""}`
                  : p.kind === "ssm"
                    ? `playbook ${p.playbook}`
                    : p.kind === "transition"
                      ? `to ${p.to}`
                      : p.kind === "record_release"
                        ? "the registry records the new release"
                        : "the registry goes back to what it recorded before"}
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

function UpgradePlan({ plan }: { plan: Schemas["UpgradePlan"] }) {
  return (
    <>
      <h2>Upgrade</h2>
      <p>
        {plan.from_release} → {plan.to_release}
        {plan.downgrade && <strong> (a downgrade)</strong>}
        {plan.snapshot ? ", after a full backup (the snapshot a rollback restores)" : ", without a snapshot"}
      </p>
      <table>
        <caption class="muted">Components that change</caption>
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">From</th>
            <th scope="col">To</th>
          </tr>
        </thead>
        <tbody>
          {plan.components.map((c) => (
            <tr>
              <td>{c.name}</td>
              <td>{c.from ?? "(new)"}</td>
              <td>{c.to}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {plan.kept.length > 0 && <p class="muted">Kept as they are: {plan.kept.join(", ")}</p>}
    </>
  );
}
