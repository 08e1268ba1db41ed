/** The dashboard's shell: sign-in with a token, the navigation between pages, the theme. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import { ApiClient, ApiFailure, type PipelineInfo, type Session } from './api';
import { AnomaliesPage } from './pages/anomalies';
import { ModelsPage } from './pages/models';
import { MonitoringPage } from './pages/monitoring';
import { QualityPage } from './pages/quality';
import { RunsPage } from './pages/runs';
import { messageOf, useQuery } from './state';
import './style.css';

/** What every page gets: the API, what the token may do, the configured pipelines and datasets. */
export interface PageProps {
  api: ApiClient;
  admin: boolean;
  pipelines: PipelineInfo[];
  datasets: string[];
}

/** The pages, in navigation order; `?page=` names one. A new view (monitoring: drift, alarms) is one more entry. */
const PAGES = [
  { id: 'runs', title: 'Runs', view: RunsPage },
  { id: 'anomalies', title: 'Anomalies', view: AnomaliesPage },
  { id: 'quality', title: 'Data quality', view: QualityPage },
  { id: 'models', title: 'Models', view: ModelsPage },
  { id: 'monitoring', title: 'Monitoring', view: MonitoringPage },
] as const;

const TOKEN_KEY = 'detour.token';
const THEME_KEY = 'detour.theme';

function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
}

function Login({ onToken, error }: { onToken: (token: string, remember: boolean) => void; error?: string }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  return (
    <main class="login">
      <h1>detour</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim() !== '') onToken(token.trim(), remember);
        }}
      >
        <label>
          API token
          <input type="password" name="token" autocomplete="current-password" value={token} onInput={(event) => setToken(event.currentTarget.value)} autofocus />
        </label>
        <label class="inline">
          <input type="checkbox" checked={remember} onChange={(event) => setRemember(event.currentTarget.checked)} /> remember on this device
        </label>
        {error !== undefined && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

/** The theme chosen on this device, else the system's. */
function initialTheme(): string {
  return localStorage.getItem(THEME_KEY) ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}

function ThemeToggle() {
  const [theme, setTheme] = useState(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return (
    <button
      type="button"
      onClick={() => {
        const next = theme === 'dark' ? 'light' : 'dark';
        localStorage.setItem(THEME_KEY, next);
        setTheme(next);
      }} aria-label={`switch to the ${theme === 'dark' ? 'light' : 'dark'} theme`}>
      {theme === 'dark' ? '☀ light' : '☾ dark'}
    </button>
  );
}

interface Signed {
  api: ApiClient;
  session: Session;
  pipelines: PipelineInfo[];
  datasets: string[];
}

function App() {
  const [token, setToken] = useState(storedToken);
  const [signed, setSigned] = useState<Signed | undefined>();
  const [loginError, setLoginError] = useState<string | undefined>();
  const [query, setQuery] = useQuery();

  useEffect(() => {
    if (token === null) return;
    const api = new ApiClient(token);
    Promise.all([api.get<Session>('/v1/session'), api.get<{ pipelines: PipelineInfo[]; datasets: string[] }>('/v1/pipelines')]).then(
      ([session, { pipelines, datasets }]) => setSigned({ api, session, pipelines, datasets }),
      (error: unknown) => {
        signOut();
        setLoginError(error instanceof ApiFailure && error.status === 401 ? 'this token is not one the server knows' : messageOf(error));
      },
    );
  }, [token]);

  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    setSigned(undefined);
    setToken(null);
  };

  if (token === null) {
    return (
      <Login
        error={loginError}
        onToken={(entered, remember) => {
          (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, entered);
          setLoginError(undefined);
          setToken(entered);
        }}
      />
    );
  }
  if (signed === undefined) return <p class="muted">signing in…</p>;

  const page = PAGES.find((candidate) => candidate.id === query.page) ?? PAGES[0];
  const View = page.view;
  const admin = signed.session.scopes.includes('admin');
  return (
    <>
      <header>
        <strong class="brand">detour</strong>
        <nav aria-label="pages">
          {PAGES.map((candidate) => (
            <a
              href={`?page=${candidate.id}`}
              aria-current={candidate === page ? 'page' : undefined}
              onClick={(event) => {
                event.preventDefault();
                // Each page keeps only its own filters: a new page starts from its defaults.
                setQuery(Object.fromEntries([...Object.keys(query).map((name) => [name, undefined]), ['page', candidate.id]]));
              }}
            >
              {candidate.title}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <span class="muted" title="the token's scopes">
          {signed.session.name ?? 'local'} · {signed.session.scopes.join(', ')}
        </span>
        <ThemeToggle />
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <h1>{page.title}</h1>
        <View api={signed.api} admin={admin} pipelines={signed.pipelines} datasets={signed.datasets} />
      </main>
    </>
  );
}

// Before the first paint, the sign-in page included.
document.documentElement.dataset.theme = initialTheme();
render(<App />, document.getElementById('app') as HTMLElement);
