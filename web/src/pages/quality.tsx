/** Data quality: a dataset's expectation results as a calendar (pass / warn / fail per day), a day's results and its quarantined rows. */
import type { QualityRow, Quarantine, RunSummary } from '../api';
import { Badge, DateInput, formatNumber, LoadState, Select } from '../components';
import type { PageProps } from '../main';
import { addDays, useLoad, useQuery } from '../state';

type DayVerdict = 'pass' | 'warn' | 'fail';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A day's verdict: fail when an expectation of severity fail failed, warn when only warn ones did. */
function verdictOf(rows: readonly QualityRow[]): DayVerdict {
  if (rows.some((row) => !row.passed && row.severity === 'fail')) return 'fail';
  return rows.some((row) => !row.passed) ? 'warn' : 'pass';
}

/** Every day from `from` to `to`, Monday-first weeks as columns (the calendar's layout). */
function weeksOf(from: string, to: string): (string | undefined)[][] {
  const weeks: (string | undefined)[][] = [];
  let week: (string | undefined)[] = new Array((new Date(`${from}T00:00:00Z`).getUTCDay() + 6) % 7).fill(undefined);
  for (let day = from; day <= to; day = addDays(day, 1)) {
    week.push(day);
    if (week.length === 7) {
      weeks.push(week);
      week = [];
    }
  }
  if (week.length > 0) weeks.push(week);
  return weeks;
}

export function QualityPage({ api, datasets, pipelines }: PageProps) {
  const [query, setQuery] = useQuery();
  const dataset = query.dataset ?? pipelines[0]?.dataset ?? datasets[0];
  const [latest] = useLoad(async () => {
    const names = pipelines.filter((pipeline) => pipeline.dataset === dataset).map((pipeline) => pipeline.name);
    const newest = await Promise.all(names.map((pipeline) => api.get<{ runs: RunSummary[] }>('/v1/runs', { pipeline, limit: 1 })));
    return newest.flatMap((answer) => answer.runs.map((run) => run.to)).sort().at(-1);
  }, dataset ?? '');
  const to = query.to ?? latest.data ?? (latest.state === 'loading' ? undefined : new Date().toISOString().slice(0, 10));
  const from = query.from ?? (to === undefined ? undefined : addDays(to, -34));
  const [results] = useLoad(async () => (from === undefined || to === undefined ? undefined : api.get<{ results: QualityRow[] }>('/v1/quality', { dataset, from, to })), `${dataset}:${from}:${to}`);
  if (dataset === undefined) return <p class="muted">No dataset is configured.</p>;

  const byDate = new Map<string, QualityRow[]>();
  for (const row of results.data?.results ?? []) byDate.set(row.date, [...(byDate.get(row.date) ?? []), row]);
  const day = query.day;
  return (
    <div>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Select label="Dataset" value={dataset} options={datasets} onChange={(name) => setQuery({ dataset: name, day: undefined })} />
        <DateInput label="from" value={from ?? ''} onChange={(date) => setQuery({ from: date })} />
        <DateInput label="to" value={to ?? ''} onChange={(date) => setQuery({ to: date })} />
      </form>
      <LoadState loaded={results} />
      {from !== undefined && to !== undefined && (
        <div class="calendar" role="grid" aria-label={`expectation results of ${dataset} per day`}>
          <div class="calendar-week calendar-weekdays" aria-hidden="true">
            {WEEKDAYS.map((weekday) => (
              <span class="calendar-day">{weekday}</span>
            ))}
          </div>
          {weeksOf(from, to).map((week) => (
            <div class="calendar-week" role="row">
              {week.map((date) => {
                if (date === undefined) return <span class="calendar-day empty" role="gridcell" />;
                const rows = byDate.get(date);
                const verdict = rows === undefined ? 'none' : verdictOf(rows);
                return (
                  <button
                    type="button"
                    role="gridcell"
                    class={`calendar-day day-${verdict}${date === day ? ' selected' : ''}`}
                    title={`${date}: ${rows === undefined ? 'no results' : verdict}`}
                    aria-label={`${date}: ${rows === undefined ? 'no results' : verdict}`}
                    onClick={() => setQuery({ day: date }, true)}
                  >
                    {date.endsWith('-01') ? MONTHS[Number(date.slice(5, 7)) - 1] : date.slice(8)}
                  </button>
                );
              })}
            </div>
          ))}
        </div>
      )}
      <p class="muted legend-row">
        <span class="swatch day-pass" /> pass <span class="swatch day-warn" /> warn <span class="swatch day-fail" /> fail <span class="swatch day-none" /> no results
      </p>
      {day !== undefined && <DayView api={api} dataset={dataset} day={day} rows={byDate.get(day) ?? []} />}
    </div>
  );
}

function DayView({ api, dataset, day, rows }: { api: PageProps['api']; dataset: string; day: string; rows: QualityRow[] }) {
  const [quarantine] = useLoad(() => api.get<Quarantine>('/v1/quarantine', { dataset, date: day, limit: 20 }), `${dataset}:${day}`);
  const sample = quarantine.data?.sample ?? [];
  const columns = sample.length === 0 ? [] : Object.keys(sample[0]);
  return (
    <section aria-label={`quality of ${day}`}>
      <h2>
        {dataset} on {day}
      </h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Expectation</th>
              <th>Column</th>
              <th>Severity</th>
              <th>Result</th>
              <th class="number">Observed</th>
              <th class="number">Failing rows</th>
              <th>Run</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr>
                <td>{row.expectation}</td>
                <td>{row.column ?? '–'}</td>
                <td>{row.severity}</td>
                <td>
                  <Badge status={row.passed ? 'pass' : row.severity} />
                </td>
                <td class="number">{formatNumber(row.observed)}</td>
                <td class="number">{formatNumber(row.failingRows)}</td>
                <td>
                  <a href={`?page=runs&run=${row.runId}`}>{row.runId}</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Quarantine</h3>
      <LoadState loaded={quarantine} />
      {quarantine.data !== undefined && (
        <>
          <p>{formatNumber(quarantine.data.rows)} rows quarantined.</p>
          <ul class="reasons">
            {quarantine.data.reasons.map((reason) => (
              <li>
                <strong>{formatNumber(reason.rows)}</strong> {reason.reason}
              </li>
            ))}
          </ul>
          {sample.length > 0 && (
            <div class="table-wrap">
              <table class="sample">
                <caption class="muted">the first {sample.length} quarantined rows</caption>
                <thead>
                  <tr>
                    {columns.map((column) => (
                      <th>{column}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {sample.map((row) => (
                    <tr>
                      {columns.map((column) => (
                        <td>{row[column] ?? ''}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
