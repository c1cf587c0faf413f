import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { UNAUTHORIZED, setToken } from "./api";
import { type CognitoConfig, type Session, finishCognito, restore, signOut, startCognito } from "./auth";
import { useRoute } from "./hooks";
import { ApiDocsPage } from "./pages/ApiDocs";
import { BoardPage } from "./pages/Board";
import { ChangeRequestPage } from "./pages/ChangeRequest";
import { DriftPage } from "./pages/Drift";
import { HistoryPage } from "./pages/History";
import { LicensesPage } from "./pages/Licenses";
import { NewRolloutPage } from "./pages/NewRollout";
import { RolloutPage } from "./pages/Rollout";
import { RolloutsPage } from "./pages/Rollouts";
import { TenantPage } from "./pages/Tenant";
import { TenantsPage } from "./pages/Tenants";
import { VersionsPage } from "./pages/Versions";
import "./styles.css";

/** /config.json, when the deployment writes one: the Cognito hosted UI to sign in with. */
async function readConfig(): Promise<{ cognito?: CognitoConfig }> {
  try {
    const r = await fetch("/config.json", { cache: "no-store" });
    return r.ok && (r.headers.get("content-type") ?? "").includes("json") ? await r.json() : {};
  } catch {
    return {};
  }
}

function App() {
  const [session, setSession] = useState<Session | null>(() => restore());
  const [cognito, setCognito] = useState<CognitoConfig | undefined>();
  const route = useRoute();
  setToken(session?.token ?? null);

  useEffect(() => {
    const out = () => {
      signOut();
      setSession(null);
    };
    addEventListener(UNAUTHORIZED, out);
    return () => removeEventListener(UNAUTHORIZED, out);
  }, []);

  useEffect(() => {
    void readConfig().then(async (c) => {
      setCognito(c.cognito);
      if (c.cognito && !session && new URLSearchParams(location.search).has("code")) {
        const s = await finishCognito(c.cognito);
        if (s) setSession(s);
      }
    });
  }, []);

  const [path, qs] = route.split("?") as [string, string | undefined];
  const query = new URLSearchParams(qs ?? "");
  const parts = path.split("/").filter(Boolean);
  let page;
  if (parts[0] === "api") page = <ApiDocsPage />;
  else if (!session) page = <SignIn cognito={cognito} />;
  else if (parts.length === 0) page = <BoardPage />;
  else if (parts[0] === "tenants" && parts[1]) page = <TenantPage id={parts[1]} session={session} />;
  else if (parts[0] === "tenants") page = <TenantsPage query={query} />;
  else if (parts[0] === "change-requests" && parts[1]) page = <ChangeRequestPage id={parts[1]} session={session} />;
  else if (parts[0] === "history") page = <HistoryPage query={query} />;
  else if (parts[0] === "rollouts" && parts[1] === "new" && session.role !== "viewer") page = <NewRolloutPage query={query} />;
  else if (parts[0] === "rollouts" && parts[1] && parts[1] !== "new") page = <RolloutPage id={parts[1]} session={session} />;
  else if (parts[0] === "rollouts" && !parts[1]) page = <RolloutsPage session={session} />;
  else if (parts[0] === "versions") page = <VersionsPage session={session} />;
  else if (parts[0] === "licenses") page = <LicensesPage query={query} />;
  else if (parts[0] === "drift") page = <DriftPage />;
  else page = <p>There is no such page.</p>;

  const nav = (to: string, name: string) => {
    const current = to === "/" ? path === "/" : path.startsWith(to);
    return (
      <a href={`#${to}`} aria-current={current ? "page" : undefined}>
        {name}
      </a>
    );
  };
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to the content
      </a>
      <header>
        <span class="brand">Admin Portal</span>
        <nav aria-label="Main">
          {nav("/", "Fleet")}
          {nav("/tenants", "Tenants")}
          {nav("/rollouts", "Rollouts")}
          {nav("/versions", "Versions")}
          {nav("/licenses", "Licenses")}
          {nav("/drift", "Drift")}
          {nav("/history", "History")}
          {nav("/api", "API")}
        </nav>
        <span class="who">
          {session ? (
            <>
              {session.sub} <span class="badge">{session.role}</span>{" "}
              <button
                type="button"
                onClick={() => {
                  signOut();
                  setSession(null);
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            "Not signed in"
          )}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

function SignIn({ cognito }: { cognito?: CognitoConfig }) {
  return (
    <section aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      {cognito ? (
        <button type="button" class="primary" onClick={() => void startCognito(cognito)}>
          Sign in with Cognito
        </button>
      ) : (
        <p>
          Locally, open the link <code>make signin ROLE=admin|operator|viewer</code> prints.
        </p>
      )}
    </section>
  );
}

render(<App />, document.getElementById("app")!);
