// The API as the server documents it: GET /v1/openapi.json (served without a token), rendered
// here (a small renderer of our own: the operations by tag with their parameters, bodies and
// answers; then every schema with its fields).
import { useLoad } from "../hooks";
import { ErrorBox, Loading } from "../ui";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ["get", "post", "put", "patch", "delete"];

function ref(s: Json | undefined): string {
  if (!s) return "";
  if (s.$ref) return String(s.$ref).split("/").pop() ?? "";
  if (s.type === "array") return `${ref(s.items)}[]`;
  if (s.oneOf) return (s.oneOf as Json[]).map(ref).join(" | ");
  if (s.allOf) return (s.allOf as Json[]).map(ref).join(" & ");
  return Array.isArray(s.type) ? s.type.join(" | ") : String(s.type ?? "object");
}

export function ApiDocsPage() {
  const load = useLoad(async () => {
    const resp = await fetch("/v1/openapi.json");
    if (!resp.ok) throw new Error(`openapi.json: ${resp.status}`);
    return (await resp.json()) as Json;
  }, []);
  if (!load.data) return load.error ? <ErrorBox error={load.error} /> : <Loading what="the API document" />;
  const doc = load.data;
  const ops: { tag: string; method: string; path: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(doc.paths as Json))
    for (const m of METHODS) if ((item as Json)[m]) ops.push({ tag: ((item as Json)[m].tags ?? ["other"])[0], method: m, path, op: (item as Json)[m] });
  const tags = [...new Set(ops.map((o) => o.tag))];
  return (
    <section aria-labelledby="docs-title">
      <h1 id="docs-title">
        {doc.info?.title} <span class="muted">{doc.info?.version}</span>
      </h1>
      <p>
        OpenAPI {doc.openapi}, as served at <a href="/v1/openapi.json">/v1/openapi.json</a>.
      </p>
      <nav aria-label="API sections">
        {tags.map((t) => (
          <a href={`#/api#tag-${t}`} class="chip" onClick={(e) => (e.preventDefault(), document.getElementById(`tag-${t}`)?.scrollIntoView())}>
            {t}
          </a>
        ))}
      </nav>
      {tags.map((t) => (
        <section aria-labelledby={`tag-${t}`}>
          <h2 id={`tag-${t}`}>{t}</h2>
          {ops
            .filter((o) => o.tag === t)
            .map(({ method, path, op }) => (
              <details class="op">
                <summary>
                  <span class={`method method-${method}`}>{method.toUpperCase()}</span> <code>{path}</code> {op.summary?.split("\n")[0]}
                </summary>
                {op.summary?.includes("\n") && <p>{op.summary}</p>}
                {op.description && <p>{op.description}</p>}
                {(op.parameters ?? []).length > 0 && (
                  <table class="list">
                    <caption>Parameters</caption>
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">In</th>
                        <th scope="col">Type</th>
                        <th scope="col">About</th>
                      </tr>
                    </thead>
                    <tbody>
                      {(op.parameters as Json[]).map((p) => (
                        <tr>
                          <th scope="row">
                            {p.name}
                            {p.required ? " *" : ""}
                          </th>
                          <td>{p.in}</td>
                          <td>{ref(p.schema)}</td>
                          <td>{p.description}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
                {op.requestBody && <p>Body: {ref(op.requestBody.content?.["application/json"]?.schema)}</p>}
                <ul>
                  {Object.entries((op.responses ?? {}) as Json).map(([code, r]) => (
                    <li>
                      <code>{code}</code> {ref((r as Json).content?.["application/json"]?.schema ?? (r as Json).content?.["application/problem+json"]?.schema)}{" "}
                      {(r as Json).description}
                    </li>
                  ))}
                </ul>
              </details>
            ))}
        </section>
      ))}
      <section aria-labelledby="schemas-title">
        <h2 id="schemas-title">Schemas</h2>
        {Object.entries((doc.components?.schemas ?? {}) as Json).map(([name, schema]) => (
          <Schema name={name} schema={schema as Json} />
        ))}
      </section>
    </section>
  );
}

function Schema({ name, schema }: { name: string; schema: Json }) {
  // An object's own properties, and those of the objects it is made of (allOf).
  const parts: Json[] = [schema, ...((schema.allOf ?? []) as Json[])];
  const props = parts.flatMap((p) => Object.entries((p.properties ?? {}) as Json).map(([k, v]) => ({ k, v: v as Json, required: ((p.required ?? []) as string[]).includes(k) })));
  return (
    <details class="op" id={`schema-${name}`}>
      <summary>
        <code>{name}</code> <span class="muted">{schema.enum ? `one of ${(schema.enum as string[]).join(", ")}` : ref(schema)}</span>
      </summary>
      {schema.description && <p>{schema.description}</p>}
      {props.length > 0 && (
        <table class="list">
          <caption>Fields of {name}</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">About</th>
            </tr>
          </thead>
          <tbody>
            {props.map(({ k, v, required }) => (
              <tr>
                <th scope="row">
                  {k}
                  {required ? " *" : ""}
                </th>
                <td>{ref(v)}</td>
                <td>{v.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}
