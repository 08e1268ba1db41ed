/** The view's state lives in the query string (shareable URLs); data comes from the API through small hooks. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiFailure, type ApiClient, type RunSummary } from './api';

/** The current query string as a plain object. */
function currentQuery(): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/**
 * The query string as state: `set({ date: '2024-03-04' })` changes it (a new history entry, so
 * Back goes to the previous view), `undefined` or '' removes a parameter.
 */
export function useQuery(): [Record<string, string>, (patch: Record<string, string | undefined>, replace?: boolean) => void] {
  const [query, setQuery] = useState(currentQuery);
  useEffect(() => {
    const onPop = () => setQuery(currentQuery());
    addEventListener('popstate', onPop);
    addEventListener('detour:navigate', onPop);
    return () => {
      removeEventListener('popstate', onPop);
      removeEventListener('detour:navigate', onPop);
    };
  }, []);
  const update = useCallback((patch: Record<string, string | undefined>, replace = false) => {
    const next = new URLSearchParams(location.search);
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined || value === '') next.delete(name);
      else next.set(name, value);
    }
    const url = `${location.pathname}?${next}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    dispatchEvent(new Event('detour:navigate'));
  }, []);
  return [query, update];
}

/** What loading something from the API came to. */
export type Loaded<T> = { state: 'loading'; data?: T } | { state: 'ready'; data: T } | { state: 'failed'; error: string; data?: T };

/**
 * Loads `load()` whenever `key` changes (and again every `pollMs` while given), keeping the last
 * data while reloading so that polling does not flash the view.
 */
export function useLoad<T>(load: () => Promise<T>, key: string, pollMs?: number): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded((previous) => ({ state: 'loading', data: previous.data }));
    load().then(
      (data) => current && setLoaded({ state: 'ready', data }),
      (error: unknown) => current && setLoaded((previous) => ({ state: 'failed', error: messageOf(error), data: previous.data })),
    );
    return () => {
      current = false;
    };
  }, [key, tick]);
  useEffect(() => {
    if (pollMs === undefined) return;
    const timer = setInterval(() => setTick((value) => value + 1), pollMs);
    return () => clearInterval(timer);
  }, [pollMs, key]);
  return [loaded, () => setTick((value) => value + 1)];
}

/** An error's message as the API said it. */
export function messageOf(error: unknown): string {
  return error instanceof ApiFailure || error instanceof Error ? error.message : String(error);
}

/** YYYY-MM-DD of today in UTC. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** `date` moved by `days`. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The last date a succeeded run of `pipeline` covered: where a page opens when the URL names no date. */
export function useLatestDate(api: ApiClient, pipeline: string | undefined): string | undefined {
  const [latest] = useLoad(async () => {
    if (pipeline === undefined) return undefined;
    const { runs } = await api.get<{ runs: RunSummary[] }>('/v1/runs', { pipeline, status: 'succeeded', limit: 20 });
    return runs.find((run) => run.kind === 'detection')?.to;
  }, pipeline ?? '');
  return latest.data;
}
