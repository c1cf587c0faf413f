import { useEffect, useRef, useState } from "preact/hooks";

export type Load<T> = { data: T | null; error: string | null; loading: boolean; reload: () => void };

/**
 * Loads once per `deps`, then again every `everyMs` (when given) while the tab is visible.
 * The refresh keeps the last data on screen while it runs.
 */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], everyMs?: number): Load<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fnRef
      .current(ctl.signal)
      .then((d) => {
        if (!ctl.signal.aborted) {
          setData(d);
          setError(null);
        }
      })
      .catch((e: unknown) => {
        if (!ctl.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      })
      .finally(() => !ctl.signal.aborted && setLoading(false));
    return () => ctl.abort();
  }, [...deps, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const id = setInterval(() => {
      if (document.visibilityState === "visible") setTick((t) => t + 1);
    }, everyMs);
    return () => clearInterval(id);
  }, [everyMs, ...deps]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

export function useRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    on(); // a change between the first render and this effect is not missed

    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#/, "") || "/";
}
