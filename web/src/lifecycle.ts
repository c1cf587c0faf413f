// What the lifecycle table allows from a state. The API exposes no route for it, so this reads
// the file written from shared/domain/src/lifecycle/table.rs (a Rust test fails when they differ).
import table from "./generated/lifecycle.json";
import type { ChangeModel, Operation, TenantState } from "./api";

interface OperationShape {
  models: ChangeModel[];
  default_model: ChangeModel | null;
  needs_approval: boolean;
  validates: boolean;
  takes_release: boolean;
  takes_backup: boolean;
  /** Requested by the alarm handler with the alarm's evidence; a person is never offered it. */
  by_alarms_only: boolean;
  /** Requested by the API when a license assignment changes, with the assignment; never offered. */
  by_licenses_only: boolean;
}

const allowed = table.allowed_from as Record<string, Operation[]>;
const ops = table.operations as Record<string, OperationShape>;

export function allowedOperations(state: TenantState): Operation[] {
  return (allowed[state] ?? []).filter((op) => !shapeOf(op).by_alarms_only && !shapeOf(op).by_licenses_only);
}

export function shapeOf(op: Operation): OperationShape {
  return ops[op] ?? { models: [], default_model: null, needs_approval: false, validates: false, takes_release: false, takes_backup: false, by_alarms_only: false, by_licenses_only: false };
}

/** Whether the operation asks for anything but a reason (then its button ends with "…"). */
export function takesParams(op: Operation): boolean {
  const s = shapeOf(op);
  return s.takes_release || s.takes_backup || s.models.length > 1;
}

const LABELS: Record<Operation, string> = {
  provision: "Provision",
  terminate: "Terminate",
  suspend: "Suspend",
  resume: "Resume",
  enter_maintenance: "Enter maintenance",
  exit_maintenance: "Exit maintenance",
  upgrade: "Upgrade",
  backup: "Back up",
  restore: "Restore",
  validate: "Validate",
  rotate_webapp_password: "Rotate web app password",
  rotate_db_password: "Rotate DB password",
  rotate_airflow_password: "Rotate Airflow password",
  mark_broken: "Mark broken",
  activate_license: "Activate license",
  adopt_drift: "Adopt drift",
  reapply_recorded: "Re-apply recorded",
};

export function label(op: Operation): string {
  return LABELS[op] ?? op;
}
