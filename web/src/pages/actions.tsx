// Actions, for operators and admins only (a viewer is never given these components): the
// operations the lifecycle table allows from the tenant's state, each with a form for its
// params; a rename; and a change request's approve, reject, cancel and abort, each confirmed
// first. A refusal (409, 412, 422...) is shown as the problem's detail next to its form.
import { useState } from "preact/hooks";
import { api, idempotencyKey, problemText, type ChangeModel, type ChangeRequest, type Operation, type Schemas, type Tenant } from "../api";
import type { Session } from "../auth";
import { useLoad } from "../hooks";
import { allowedOperations, label, shapeOf, takesParams } from "../lifecycle";
import { ErrorBox } from "../ui";

/** The operations its state allows, less `hide` (those that would only be refused now). */
export function Actions({ tenant, onDone, hide = [] }: { tenant: Tenant; onDone: () => void; hide?: Operation[] }) {
  const [open, setOpen] = useState<Operation | null>(null);
  const ops = allowedOperations(tenant.state).filter((op) => !hide.includes(op));
  return (
    <section class="actions" aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      {tenant.active_change_request_id && (
        <p class="note">
          A change request holds this tenant: the API refuses another until it ends.
        </p>
      )}
      {ops.length === 0 ? (
        <p>No operation is allowed from {tenant.state}.</p>
      ) : (
        <div class="buttons" role="group" aria-label="Operations">
          {ops.map((op) => (
            <button type="button" aria-expanded={open === op} onClick={() => setOpen(open === op ? null : op)}>
              {label(op)}
              {takesParams(op) ? "…" : ""}
            </button>
          ))}
        </div>
      )}
      {open && (
        <RequestForm
          key={open}
          tenant={tenant}
          op={open}
          onClose={() => setOpen(null)}
          onDone={(cr) => {
            setOpen(null);
            onDone();
            location.hash = `#/change-requests/${cr.id}`;
          }}
        />
      )}
    </section>
  );
}

function RequestForm(props: { tenant: Tenant; op: Operation; onClose: () => void; onDone: (cr: ChangeRequest) => void }) {
  const { tenant, op } = props;
  const shape = shapeOf(op);
  const [release, setRelease] = useState("");
  const [backup, setBackup] = useState("");
  const [model, setModel] = useState<ChangeModel | "">(shape.default_model ?? "");
  const [reason, setReason] = useState("");
  const [downgrade, setDowngrade] = useState(false);
  const [noSnapshot, setNoSnapshot] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const releases = useLoad(async () => {
    if (!shape.takes_release) return [];
    const { data } = await api.GET("/v1/releases", { params: { query: { limit: 500 } } });
    return (data?.items ?? []).map((r) => r.version).filter((v) => v !== tenant.release);
  }, [op]);
  const name = label(op);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    const params: Schemas["ChangeParams"] = {};
    if (shape.takes_release && release) params.release = release;
    if (shape.takes_release && downgrade) params.allow_downgrade = true;
    if (shape.takes_release && noSnapshot && model !== "swap") params.snapshot = false;
    if (shape.takes_backup && backup) params.backup_id = backup;
    if (shape.models.length > 1 && model) params.change_model = model;
    const body: { operation: Operation; params: Schemas["ChangeParams"]; reason: string | null } = {
      operation: op,
      params,
      reason: reason || null,
    };
    const { data, error, response } = await api.POST("/v1/tenants/{id}/change-requests", {
      params: { path: { id: tenant.id } },
      headers: { "idempotency-key": idempotencyKey() },
      // The operation is picked at run time, while the document gives one shape per group of
      // operations (a union the compiler cannot pick from): the fields are checked here against
      // the document's Operation and ChangeParams, which op takes which params is the lifecycle
      // file's, and the API checks the pair.
      body: body as never,
    });
    setBusy(false);
    // A request without `dry_run` answers 202 with the change request (a dry run would be 200
    // with its plan: this form never asks for one).
    if (data && response.status === 202) props.onDone(data as ChangeRequest);
    else setProblem(problemText(error, response.status));
  };

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="request-title">
      <h3 id="request-title">
        {name} {tenant.name}
      </h3>
      {shape.needs_approval && <p class="note">This waits for a second admin's approval before it runs.</p>}
      {shape.takes_release && (
        <label>
          Release
          <select required value={release} onChange={(e) => setRelease(e.currentTarget.value)}>
            <option value="">Choose a release</option>
            {(releases.data ?? []).map((v) => (
              <option value={v}>{v}</option>
            ))}
          </select>
        </label>
      )}
      {shape.takes_release && (
        <label class="check">
          <input type="checkbox" checked={downgrade} onChange={(e) => setDowngrade(e.currentTarget.checked)} />
          Allow going back to an older release
        </label>
      )}
      {shape.takes_release && model !== "swap" && (
        <label class="check">
          <input type="checkbox" checked={noSnapshot} onChange={(e) => setNoSnapshot(e.currentTarget.checked)} />
          Skip the snapshot (a rollback then cannot restore data)
        </label>
      )}
      {shape.takes_backup && (
        <label>
          Backup id
          <input required value={backup} onInput={(e) => setBackup(e.currentTarget.value)} />
        </label>
      )}
      {shape.models.length > 1 && (
        <label>
          Change model
          <select value={model} onChange={(e) => setModel(e.currentTarget.value as ChangeModel)}>
            {shape.models.map((m) => (
              <option value={m}>{m}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        Reason (ticket, incident)
        <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <div class="buttons">
        <button type="submit" class="primary" disabled={busy}>
          Request {name.toLowerCase()}
        </button>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
      <ErrorBox error={problem} />
    </form>
  );
}

export function Rename({ tenant, onDone }: { tenant: Tenant; onDone: () => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState(tenant.name);
  const [problem, setProblem] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    const { data, error, response } = await api.PATCH("/v1/tenants/{id}", {
      params: { path: { id: tenant.id }, header: { "If-Match": `"${tenant.revision}"` } },
      body: { name },
    });
    if (data) {
      setOpen(false);
      onDone();
    } else setProblem(problemText(error, response.status));
  };
  if (!open)
    return (
      <p>
        <button type="button" onClick={() => (setName(tenant.name), setOpen(true))}>
          Rename…
        </button>
      </p>
    );
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="rename-title">
      <h3 id="rename-title">Rename {tenant.name}</h3>
      <label>
        New name
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <div class="buttons">
        <button type="submit" class="primary">
          Save the name
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Close
        </button>
      </div>
      <ErrorBox error={problem} />
    </form>
  );
}

type Decision = "approve" | "reject" | "cancel" | "abort" | "rollback";

const DECISIONS: Record<Decision, { button: string; confirm: string; done: string }> = {
  approve: { button: "Approve", confirm: "Yes, approve it", done: "approved" },
  reject: { button: "Reject", confirm: "Yes, reject it", done: "rejected" },
  cancel: { button: "Cancel the request", confirm: "Yes, cancel it", done: "cancelled" },
  abort: { button: "Abort…", confirm: "Yes, abort it", done: "aborted" },
  rollback: { button: "Roll back…", confirm: "Yes, roll it back", done: "rolled back" },
};

/** Whether a running change request waits at a gate (a swap's cut-over) for a decision. */
function awaitsGate(cr: ChangeRequest): boolean {
  return cr.status === "running" && !!cr.gate && cr.gate.approved === undefined;
}

/** Whether a running change request is in its fallback window (a rollback may be asked). */
function inWindow(cr: ChangeRequest): boolean {
  const windows = (cr.planned_steps ?? []).filter((p) => p.kind === "window").map((p) => p.name);
  return cr.status === "running" && !cr.rollback_requested && (cr.steps ?? []).some((s) => s.status === "running" && windows.includes(s.name));
}

/** Which decisions this caller may take on this change request (the API says the same). */
export function decisionsFor(cr: ChangeRequest, s: Session | null): Decision[] {
  if (!s || s.role === "viewer") return [];
  const mine = cr.requested_by === s.sub || cr.requested_by.startsWith(`${s.sub} `);
  const admin = s.role === "admin";
  const out: Decision[] = [];
  if ((cr.status === "awaiting_approval" || awaitsGate(cr)) && admin && !mine) out.push("approve", "reject");
  if ((cr.status === "awaiting_approval" || cr.status === "pending") && (admin || mine)) out.push("cancel");
  if (inWindow(cr) && admin) out.push("rollback");
  if (cr.status === "running" && admin) out.push("abort");
  return out;
}

export function Decisions({ cr, session, onDone }: { cr: ChangeRequest; session: Session | null; onDone: () => void }) {
  const [open, setOpen] = useState<Decision | null>(null);
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const allowed = decisionsFor(cr, session);
  if (allowed.length === 0) return null;
  const confirm = async () => {
    if (!open) return;
    setProblem(null);
    const path = { params: { path: { id: cr.id } } };
    const r =
      open === "abort"
        ? await api.POST("/v1/change-requests/{id}/abort", { ...path, body: { reason } })
        : open === "rollback"
        ? await api.POST("/v1/change-requests/{id}/rollback", { ...path, body: { reason } })
        : open === "approve"
          ? await api.POST("/v1/change-requests/{id}/approve", path)
          : open === "reject"
            ? await api.POST("/v1/change-requests/{id}/reject", path)
            : await api.POST("/v1/change-requests/{id}/cancel", path);
    if (r.response.ok) {
      setOpen(null);
      onDone();
    } else setProblem(problemText(r.error, r.response.status));
  };
  return (
    <section class="actions" aria-labelledby="decide-title">
      <h2 id="decide-title">Actions</h2>
      <div class="buttons" role="group" aria-label="Decisions">
        {allowed.map((d) => (
          <button type="button" aria-expanded={open === d} onClick={() => (setProblem(null), setOpen(open === d ? null : d))}>
            {DECISIONS[d].button}
          </button>
        ))}
      </div>
      {open && (
        <form
          class="panel"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <p>
            {open === "abort"
              ? "Aborting stops its execution and the Jenkins build or SSM command it runs; the tenant goes where a failure goes."
              : open === "rollback"
                ? "Traffic moves back to the old side, and the registry goes back to what it recorded before the upgrade."
                : awaitsGate(cr) && open === "approve"
                  ? `The cut-over (${cr.gate?.step}) will go ahead: traffic moves to the new side.`
                  : `This change request will be ${DECISIONS[open].done}.`}
          </p>
          {(open === "abort" || open === "rollback") && (
            <label>
              Reason (required)
              <input required value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
          )}
          <div class="buttons">
            <button type="submit" class="primary">
              {DECISIONS[open].confirm}
            </button>
            <button type="button" onClick={() => setOpen(null)}>
              Go back
            </button>
          </div>
          <ErrorBox error={problem} />
        </form>
      )}
    </section>
  );
}
