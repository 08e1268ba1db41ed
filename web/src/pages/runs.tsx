/** Runs: the list with filters, live while runs are running; a run's step timeline, params, inputs and errors; resume, rerun, start (admin). */
import { useEffect, useState } from 'preact/hooks';
import type { RunDetail, RunSummary, StepRow } from '../api';
import { Badge, ConfirmButton, DateInput, formatNumber, formatTime, LoadState, Select } from '../components';
import type { PageProps } from '../main';
import { useLoad, useQuery } from '../state';

/** How often a view with a running run asks again. */
const POLL_MS = 2_000;
const PAGE_SIZE = 100;
/** How long the list keeps asking after runs were started from it. */
const WATCH_MS = 30_000;

export function RunsPage({ api, admin, pipelines }: PageProps) {
  const [query, setQuery] = useQuery();
  const filters = { pipeline: query.pipeline, status: query.status, from: query.from, to: query.to };
  const [pages, setPages] = useState(1);
  const [anyRunning, setAnyRunning] = useState(false);
  // Runs started in the background (a backfill) appear a moment after the answer: watch for them.
  const [watchUntil, setWatchUntil] = useState(0);
  const key = JSON.stringify(filters);
  const [loaded, reload] = useLoad(
    async () => {
      // Page after page up to the number shown, so that a poll refreshes every visible run.
      const runs: RunSummary[][] = [];
      let cursor: string | null | undefined;
      let more = false;
      for (let page = 0; page < pages; page++) {
        const answer = await api.get<{ runs: RunSummary[]; nextCursor: string | null }>('/v1/runs', { ...filters, limit: PAGE_SIZE, cursor: cursor ?? undefined });
        runs.push(answer.runs);
        cursor = answer.nextCursor;
        more = cursor !== null;
        if (!more) break;
      }
      setAnyRunning(runs.flat().some((run) => run.status === 'running'));
      return { runs: runs.flat(), more };
    },
    `${key}:${pages}`,
    anyRunning || Date.now() < watchUntil ? POLL_MS : undefined,
  );
  const runs = loaded.data?.runs ?? [];
  // When the list first shows runs, for the bench: the page's time to interactive.
  useEffect(() => {
    if (runs.length > 0 && performance.getEntriesByName('runs-shown').length === 0) performance.mark('runs-shown');
  }, [runs.length > 0]);
  return (
    <div class="runs-page">
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Select label="Pipeline" value={query.pipeline ?? ''} options={pipelines.map((pipeline) => pipeline.name)} allowAny="any" onChange={(pipeline) => setQuery({ pipeline })} />
        <Select label="Status" value={query.status ?? ''} options={['running', 'succeeded', 'failed']} allowAny="any" onChange={(status) => setQuery({ status })} />
        <DateInput label="Dates from" value={query.from ?? ''} onChange={(from) => setQuery({ from })} />
        <DateInput label="to" value={query.to ?? ''} onChange={(to) => setQuery({ to })} />
        {admin && <StartRun api={api} pipelines={pipelines.map((pipeline) => pipeline.name)} onStarted={(id) => { if (id !== undefined) setQuery({ run: id }); setWatchUntil(Date.now() + WATCH_MS); reload(); }} />}
      </form>
      <LoadState loaded={loaded} />
      <div class="split">
        <div class="table-wrap">
          <table class="runs">
            <caption class="muted">{runs.length} runs{loaded.data?.more ? ' (more below)' : ''}</caption>
            <thead>
              <tr>
                <th>Status</th>
                <th>Run</th>
                <th>Pipeline</th>
                <th>Dates</th>
                <th>Started (UTC)</th>
                <th class="number">Seconds</th>
                <th class="number">Rows</th>
                <th class="number">Anomalies</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr class={run.id === query.run ? 'selected' : undefined}>
                  <td>
                    <Badge status={run.status} />
                  </td>
                  <td>
                    <a href={`?page=runs&run=${run.id}`} onClick={(event) => { event.preventDefault(); setQuery({ run: run.id }); }}>
                      {run.id}
                    </a>
                    {run.kind === 'training' && <span class="muted"> training</span>}
                  </td>
                  <td>{run.pipeline}</td>
                  <td>{run.from === run.to ? run.from : `${run.from}..${run.to}`}</td>
                  <td>{formatTime(run.startedAt)}</td>
                  <td class="number">{formatNumber(run.seconds)}</td>
                  <td class="number">{formatNumber(run.rowsRead)}</td>
                  <td class="number">{formatNumber(run.anomalies)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {loaded.data?.more && (
            <button type="button" onClick={() => setPages(pages + 1)}>
              Show {PAGE_SIZE} more
            </button>
          )}
        </div>
        {query.run !== undefined && <RunView api={api} admin={admin} id={query.run} onChanged={reload} />}
      </div>
    </div>
  );
}

function StartRun({ api, pipelines, onStarted }: { api: PageProps['api']; pipelines: string[]; onStarted: (id?: string) => void }) {
  const [pipeline, setPipeline] = useState(pipelines[0] ?? '');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [backfilled, setBackfilled] = useState<string | undefined>();
  const last = to || from;
  const range = from === last ? from || '?' : `${from}..${last}`;
  return (
    <fieldset class="start-run">
      <legend>Start runs</legend>
      <Select label="Pipeline" value={pipeline} options={pipelines} onChange={setPipeline} />
      <DateInput label="from" value={from} onChange={setFrom} />
      <DateInput label="to" value={to} onChange={setTo} />
      <ConfirmButton
        label="Run"
        question={`Start one run of ${pipeline} over ${range}? Every date of it is processed again.`}
        action={async () => {
          const run = await api.post<{ id: string }>('/v1/runs', from === last ? { pipeline, date: from } : { pipeline, from, to: last });
          onStarted(run.id);
        }}
      />
      <ConfirmButton
        label="Backfill"
        question={`Start a run of ${pipeline} for each date of ${range} that no succeeded run covers yet, one after another?`}
        action={async () => {
          const answer = await api.post<{ dates: string[]; skipped: string[] }>('/v1/backfills', { pipeline, from, to: last });
          setBackfilled(`${answer.dates.length} run${answer.dates.length === 1 ? '' : 's'} starting, ${answer.skipped.length} date${answer.skipped.length === 1 ? '' : 's'} already done`);
          onStarted();
        }}
      />
      {backfilled !== undefined && (
        <span class="muted" role="status">
          {backfilled}
        </span>
      )}
    </fieldset>
  );
}

const STEP_COLOURS: Record<StepRow['status'], string> = { pending: 'var(--pending)', running: 'var(--running)', succeeded: 'var(--ok)', failed: 'var(--fail)', skipped: 'var(--muted)' };

/** One bar per step partition on a common time axis, from the run's start to its end (or now). */
function Timeline({ detail }: { detail: RunDetail }) {
  const start = Date.parse(detail.run.startedAt);
  const ends = detail.steps.map((step) => (step.finishedAt === null ? (step.startedAt === null ? start : Date.now()) : Date.parse(step.finishedAt)));
  const end = Math.max(start + 1, detail.run.finishedAt === null ? Date.now() : Date.parse(detail.run.finishedAt), ...ends);
  const span = end - start;
  return (
    <ol class="timeline" aria-label="step timeline">
      {detail.steps.map((step, i) => {
        const from = step.startedAt === null ? start : Date.parse(step.startedAt);
        const left = ((from - start) / span) * 100;
        const width = Math.max(0.5, ((ends[i] - from) / span) * 100);
        const title = `${step.step} ${step.partition}: ${step.status}, attempt ${step.attempts}${step.worker ? ` on ${step.worker}` : ''}${step.seconds === null ? '' : `, ${formatNumber(step.seconds)} s`}`;
        return (
          <li title={title}>
            <span class="timeline-label">
              {step.step} <span class="muted">{step.partition}</span>
            </span>
            <span class="timeline-track">
              <span class={`timeline-bar step-${step.status}`} style={{ left: `${left}%`, width: `${width}%`, background: STEP_COLOURS[step.status] }} />
            </span>
            <span class="timeline-facts muted">
              {step.status} · ×{step.attempts}
              {step.worker ? ` · ${step.worker}` : ''}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

function RunView({ api, admin, id, onChanged }: { api: PageProps['api']; admin: boolean; id: string; onChanged: () => void }) {
  const [query, setQuery] = useQuery();
  const [pollMs, setPollMs] = useState<number | undefined>();
  const [loaded, reload] = useLoad(
    async () => {
      const detail = await api.get<RunDetail>(`/v1/runs/${encodeURIComponent(id)}`);
      setPollMs(detail.run.status === 'running' ? POLL_MS : undefined);
      return detail;
    },
    id,
    pollMs,
  );
  const detail = loaded.data;
  const changed = (next?: { id: string }) => {
    onChanged();
    if (next !== undefined && next.id !== id) setQuery({ run: next.id });
    else reload();
  };
  return (
    <section class="run-detail" aria-label={`run ${id}`}>
      <div class="row">
        <h2>Run {detail?.run.id ?? id}</h2>
        <button type="button" aria-label="close the run" onClick={() => setQuery({ run: undefined })}>
          ✕
        </button>
      </div>
      <LoadState loaded={loaded} />
      {detail !== undefined && (
        <>
          <p>
            <Badge status={detail.run.status} /> {detail.run.pipeline} · {detail.run.from === detail.run.to ? detail.run.from : `${detail.run.from}..${detail.run.to}`} · started {formatTime(detail.run.startedAt)}
            {detail.run.rerunOf && (
              <>
                {' '}· rerun of{' '}
                <a href={`?page=runs&run=${detail.run.rerunOf}`} onClick={(event) => { event.preventDefault(); setQuery({ ...query, run: detail.run.rerunOf ?? undefined }); }}>
                  {detail.run.rerunOf}
                </a>
              </>
            )}
          </p>
          {detail.run.error !== null && (
            <p class="error run-error" role="alert">
              {detail.run.error}
            </p>
          )}
          {detail.steps
            .filter((step) => step.status === 'failed')
            .map((step) => (
              <p class="error step-error">
                <strong>
                  {step.step} {step.partition}
                </strong>{' '}
                failed after {step.attempts} attempt{step.attempts === 1 ? '' : 's'}
                {step.worker ? ` on ${step.worker}` : ''}: {step.error}
              </p>
            ))}
          {admin && (
            <div class="actions">
              {detail.run.status === 'failed' && (
                <ConfirmButton label="Resume" question={`Resume run ${detail.run.id} from its failed step? Steps that succeeded are not run again.`} action={() => api.post(`/v1/runs/${detail.run.id}/resume`)} onDone={() => changed()} />
              )}
              {detail.run.status !== 'running' && (
                <ConfirmButton
                  label="Rerun"
                  question={`Start a new run with the params of ${detail.run.id}? It is refused if its inputs changed.`}
                  action={async () => changed(await api.post<{ id: string }>(`/v1/runs/${detail.run.id}/rerun`))}
                />
              )}
            </div>
          )}
          <h3>Steps</h3>
          <Timeline detail={detail} />
          <h3>Inputs</h3>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Date</th>
                  <th>File</th>
                  <th class="number">Bytes</th>
                  <th>sha256</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(detail.inputs).flatMap(([date, files]) =>
                  files.map((file) => (
                    <tr>
                      <td>{date}</td>
                      <td>{file.key}</td>
                      <td class="number">{formatNumber(file.size)}</td>
                      <td class="hash" title={file.sha256}>
                        {file.sha256.slice(0, 16)}…
                      </td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </div>
          <details>
            <summary>Parameters</summary>
            <pre>{JSON.stringify(detail.run.params, null, 2)}</pre>
          </details>
        </>
      )}
    </section>
  );
}
