/**
 * Anomalies: for record detectors a day's records as a scatter with the flagged ones highlighted and
 * a sortable table linked to it; for series detectors an entity's series with its expected band,
 * anomalies marked, and the top anomalies across entities.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { DayRecords, EntitySeries, FlaggedRecord, PipelineInfo, StoredAnomaly } from '../api';
import { DateInput, formatNumber, LoadState, Select, useWidth } from '../components';
import type { PageProps } from '../main';
import { LinePlot } from '../plots/line-plot';
import { ScatterPlot } from '../plots/scatter';
import { addDays, useLatestDate, useLoad, useQuery } from '../state';

/** Colours of detectors, in the order a day's flagged records name them. */
const DETECTOR_COLOURS = ['#e4572e', '#2e86ab', '#f3a712', '#8e44ad', '#17a589', '#c0392b'];
const TOP_ANOMALIES = 20;
/** Flagged records the table lists at first; the rest on demand (a day can flag thousands). */
const FIRST_ROWS = 300;

export function AnomaliesPage({ api, pipelines }: PageProps) {
  const [query, setQuery] = useQuery();
  const plotted = pipelines.filter((pipeline) => pipeline.records || pipeline.series);
  const pipeline: PipelineInfo | undefined = plotted.find((candidate) => candidate.name === query.pipeline) ?? plotted[0];
  const latest = useLatestDate(api, pipeline?.name);
  const date = query.date ?? latest;
  if (pipeline === undefined) return <p class="muted">No pipeline has a record or series detector.</p>;
  return (
    <div>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Select label="Pipeline" value={pipeline.name} options={plotted.map((candidate) => candidate.name)} onChange={(name) => setQuery({ pipeline: name, date: undefined, entity: undefined, ride: undefined, from: undefined, to: undefined })} />
        {pipeline.records && <DateInput label="Day" value={date ?? ''} onChange={(day) => setQuery({ pipeline: pipeline.name, date: day, ride: undefined })} />}
      </form>
      {date === undefined ? <p class="muted">No succeeded run of {pipeline.name} yet: pick a day.</p> : null}
      {pipeline.records && date !== undefined && <RecordsView key={`${pipeline.name}:${date}`} api={api} pipeline={pipeline.name} date={date} />}
      {pipeline.series && latest !== undefined && <SeriesView api={api} pipeline={pipeline.name} latest={query.date ?? latest} />}
    </div>
  );
}

type SortKey = 'score' | 'id' | 'detector';

function RecordsView({ api, pipeline, date }: { api: PageProps['api']; pipeline: string; date: string }) {
  const [query, setQuery] = useQuery();
  const [loaded] = useLoad(() => api.get<DayRecords>('/v1/records', { pipeline, date }), `${pipeline}:${date}`);
  const records = loaded.data;
  const log = query.scale === 'log';
  const sort = (query.sort ?? 'score') as SortKey;
  const { ref: box, width } = useWidth<HTMLDivElement>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const plot = useRef<ScatterPlot | null>(null);
  const [hover, setHover] = useState<{ index: number; x: number; y: number } | undefined>();
  const [allRows, setAllRows] = useState(false);

  const columns = useMemo(() => {
    if (records === undefined) return undefined;
    const x = Float64Array.from(records.xValues, (value) => value ?? Number.NaN);
    const y = Float64Array.from(records.yValues, (value) => value ?? Number.NaN);
    const detectors = [...new Set(records.flagged.flatMap((flag) => flag.detector.split('+')))].sort();
    const colour = new Map(detectors.map((detector, i) => [detector, DETECTOR_COLOURS[i % DETECTOR_COLOURS.length]]));
    const byIndex = new Map(records.flagged.map((flag) => [flag.index, flag]));
    const byId = new Map(records.flagged.map((flag) => [flag.id, flag]));
    return { x, y, detectors, colour, byIndex, byId };
  }, [records]);

  const selectedIndex = query.ride === undefined || records === undefined ? undefined : records.ids.indexOf(query.ride);
  const selected = selectedIndex === undefined || selectedIndex < 0 ? undefined : selectedIndex;

  useEffect(() => {
    if (canvas.current === null || columns === undefined || records === undefined || width === 0) return;
    plot.current ??= new ScatterPlot(canvas.current);
    performance.mark('scatter-start');
    plot.current.draw(
      {
        x: columns.x,
        y: columns.y,
        highlighted: records.flagged.map((flag) => ({ index: flag.index, colour: columns.colour.get(flag.detector.split('+')[0]) ?? DETECTOR_COLOURS[0] })),
        selected,
        log,
        xLabel: axisLabel(records.x),
        yLabel: axisLabel(records.y),
      },
      width,
      Math.max(280, Math.min(520, Math.round(width * 0.6))),
    );
    performance.measure('scatter-draw', 'scatter-start');
    canvas.current.dataset.drawn = String(records.ids.length);
  }, [columns, width, selected, log]);

  const pointAt = (event: MouseEvent) => {
    const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const index = plot.current?.nearest(x, y);
    return index === undefined ? undefined : { index, x, y };
  };

  const sorted = useMemo(() => {
    const flagged = [...(records?.flagged ?? [])];
    const order: Record<SortKey, (a: FlaggedRecord, b: FlaggedRecord) => number> = {
      score: (a, b) => b.score - a.score,
      id: (a, b) => (a.id < b.id ? -1 : 1),
      detector: (a, b) => (a.detector < b.detector ? -1 : a.detector > b.detector ? 1 : b.score - a.score),
    };
    flagged.sort(order[sort]);
    // The selected record stays listed, wherever it sorts.
    const shown = allRows ? flagged : flagged.slice(0, FIRST_ROWS);
    const chosen = flagged.find((flag) => flag.id === query.ride);
    return chosen === undefined || shown.includes(chosen) ? shown : [chosen, ...shown];
  }, [records, sort, allRows, query.ride]);

  useEffect(() => {
    if (query.ride !== undefined) document.getElementById(`flag-${query.ride}`)?.scrollIntoView({ block: 'nearest' });
  }, [query.ride]);

  return (
    <section aria-label="records">
      <LoadState loaded={loaded} />
      {records !== undefined && columns !== undefined && (
        <>
          <p class="muted">
            {formatNumber(records.ids.length)} {records.table} on {records.date}, {formatNumber(records.flagged.length)} flagged.{' '}
            {columns.detectors.map((detector) => (
              <span class="legend">
                <span class="swatch" style={{ background: columns.colour.get(detector) }} /> {detector}
              </span>
            ))}
            <label class="inline">
              <input type="checkbox" checked={log} onChange={(event) => setQuery({ scale: event.currentTarget.checked ? 'log' : undefined }, true)} /> log scales
            </label>
          </p>
          <div class="split">
            <div class="plot-box" ref={box}>
              <canvas
                ref={canvas}
                class="scatter"
                role="img"
                aria-label={`${records.table}: ${axisLabel(records.y)} against ${axisLabel(records.x)}; arrow keys step through the flagged ones, listed in the table`}
                onMouseMove={(event) => setHover(pointAt(event))}
                onMouseLeave={() => setHover(undefined)}
                onClick={(event) => {
                  const point = pointAt(event);
                  if (point !== undefined) setQuery({ ride: records.ids[point.index] }, true);
                }}
                tabIndex={0}
                aria-keyshortcuts="ArrowRight ArrowLeft Escape"
                onKeyDown={(event) => {
                  // The keyboard walks the flagged records in the table's order.
                  const step = event.key === 'ArrowRight' || event.key === 'ArrowDown' ? 1 : event.key === 'ArrowLeft' || event.key === 'ArrowUp' ? -1 : 0;
                  if (event.key === 'Escape') setQuery({ ride: undefined }, true);
                  if (step === 0 || sorted.length === 0) return;
                  event.preventDefault();
                  const at = sorted.findIndex((flag) => flag.id === query.ride);
                  const next = at < 0 ? (step > 0 ? 0 : sorted.length - 1) : (at + step + sorted.length) % sorted.length;
                  setQuery({ ride: sorted[next].id }, true);
                }}
              />
              {hover !== undefined && (
                <div class="tooltip" style={{ left: `${hover.x + 12}px`, top: `${hover.y + 12}px` }}>
                  <RecordFacts records={records} index={hover.index} flag={columns.byIndex.get(hover.index)} />
                </div>
              )}
            </div>
            <div class="side">
              {selected !== undefined && (
                <div class="card selected-record" aria-live="polite">
                  <RecordFacts records={records} index={selected} flag={columns.byIndex.get(selected)} />
                </div>
              )}
              <div class="table-wrap tall">
                <table class="flagged">
                  <thead>
                    <tr>
                      {(['id', 'detector', 'score'] as const).map((column) => (
                        <th aria-sort={sort === column ? (column === 'score' ? 'descending' : 'ascending') : undefined}>
                          <button type="button" class="link" onClick={() => setQuery({ sort: column }, true)}>
                            {column === 'id' ? 'Record' : column === 'detector' ? 'Detector' : 'Score'}
                          </button>
                        </th>
                      ))}
                      <th>Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    {sorted.map((flag) => (
                      <tr id={`flag-${flag.id}`} class={flag.id === query.ride ? 'selected' : undefined}>
                        <td>
                          <button type="button" class="link" onClick={() => setQuery({ ride: flag.id }, true)}>
                            {flag.id}
                          </button>
                        </td>
                        <td>{flag.detector}</td>
                        <td class="number">{flag.score.toFixed(2)}</td>
                        <td class="reason">{flag.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {!allRows && records.flagged.length > FIRST_ROWS && (
                <button type="button" onClick={() => setAllRows(true)}>
                  List all {formatNumber(records.flagged.length)} flagged
                </button>
              )}
            </div>
          </div>
        </>
      )}
    </section>
  );
}

function axisLabel(axis: DayRecords['x']): string {
  return axis.unit === null ? axis.label : `${axis.label} (${axis.unit})`;
}

function RecordFacts({ records, index, flag }: { records: DayRecords; index: number; flag?: FlaggedRecord }) {
  return (
    <dl>
      <dt>Record</dt>
      <dd>{records.ids[index]}</dd>
      <dt>{axisLabel(records.x)}</dt>
      <dd>{formatNumber(records.xValues[index])}</dd>
      <dt>{axisLabel(records.y)}</dt>
      <dd>{formatNumber(records.yValues[index])}</dd>
      {flag === undefined ? (
        <>
          <dt>Flagged</dt>
          <dd>no</dd>
        </>
      ) : (
        <>
          <dt>Detector</dt>
          <dd>{flag.detector}</dd>
          <dt>Score</dt>
          <dd>{flag.score.toFixed(3)}</dd>
          <dt>Reason</dt>
          <dd class="reason">{flag.reason}</dd>
        </>
      )}
    </dl>
  );
}

const SERIES_STYLE = { value: '#2e86ab', expected: '#7f8c8d', band: 'rgba(127,140,141,0.25)', anomaly: '#e4572e' };

function SeriesView({ api, pipeline, latest }: { api: PageProps['api']; pipeline: string; latest: string }) {
  const [query, setQuery] = useQuery();
  const to = query.to ?? latest;
  const from = query.from ?? addDays(to, -30);
  const [entities] = useLoad(() => api.get<{ entities: string[] }>('/v1/entities', { pipeline, from, to }), `${pipeline}:${from}:${to}`);
  const entity = query.entity ?? entities.data?.entities[0];
  const [series] = useLoad(async () => (entity === undefined ? undefined : api.get<EntitySeries>('/v1/series', { pipeline, entity, from, to })), `${pipeline}:${entity}:${from}:${to}`);
  const [top] = useLoad(() => api.get<{ anomalies: StoredAnomaly[] }>('/v1/anomalies', { pipeline, from, to, limit: 10_000 }), `${pipeline}:${from}:${to}`);
  const [search, setSearch] = useState('');

  const plot = useMemo(() => {
    const data = series.data;
    if (data === undefined) return undefined;
    const seconds = data.points.map((point) => Date.parse(point.time) / 1000);
    const anomalous = new Set(data.anomalies.map((anomaly) => anomaly.date));
    const column = (pick: (point: EntitySeries['points'][number]) => number | null) => data.points.map(pick);
    const aligned: uPlot.AlignedData = [
      seconds,
      column((point) => point.value),
      column((point) => point.expected),
      column((point) => point.lower),
      column((point) => point.upper),
      column((point) => (anomalous.has(point.time.slice(0, 10)) ? point.value : null)),
    ];
    return aligned;
  }, [series.data]);

  const ranked = useMemo(() => [...(top.data?.anomalies ?? [])].sort((a, b) => b.score - a.score).slice(0, TOP_ANOMALIES), [top.data]);

  return (
    <section aria-label="series">
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
          if (search.trim() !== '') setQuery({ entity: search.trim() });
        }}
      >
        <label>
          Entity
          <input list="entities" value={search || entity || ''} placeholder="search" onInput={(event) => setSearch(event.currentTarget.value)} />
          <datalist id="entities">
            {(entities.data?.entities ?? []).map((name) => (
              <option value={name} />
            ))}
          </datalist>
        </label>
        <button type="submit">Show</button>
        <DateInput label="from" value={from} onChange={(day) => setQuery({ from: day })} />
        <DateInput label="to" value={to} onChange={(day) => setQuery({ to: day })} />
      </form>
      <LoadState loaded={series} />
      {series.data !== undefined && plot !== undefined && (
        <>
          <h2>
            {series.data.entity}: {series.data.value}
          </h2>
          <p class="muted band-source">{series.data.band}</p>
          <LinePlot
            label={`${series.data.value} of ${series.data.entity} with its expected value and band`}
            time
            data={plot}
            series={[
              {},
              { label: series.data.value, stroke: SERIES_STYLE.value, width: 2 },
              { label: 'expected', stroke: SERIES_STYLE.expected, dash: [6, 4] },
              { label: 'lower', stroke: SERIES_STYLE.band },
              { label: 'upper', stroke: SERIES_STYLE.band },
              { label: 'anomaly', stroke: SERIES_STYLE.anomaly, paths: () => null, points: { show: true, size: 10, fill: SERIES_STYLE.anomaly } },
            ]}
            bands={[{ series: [4, 3], fill: SERIES_STYLE.band }]}
          />
        </>
      )}
      <h2>Top anomalies</h2>
      <LoadState loaded={top} />
      {top.data !== undefined && ranked.length === 0 && (
        <p class="muted">
          No anomaly published from {from} to {to}.
        </p>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Entity</th>
              <th>Date</th>
              <th>Detector</th>
              <th class="number">Value</th>
              <th class="number">Expected</th>
              <th class="number">Score</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {ranked.map((anomaly) => (
              <tr class={anomaly.entity === entity ? 'selected' : undefined}>
                <td>
                  <button type="button" class="link" onClick={() => setQuery({ entity: anomaly.entity })}>
                    {anomaly.entity}
                  </button>
                </td>
                <td>{anomaly.date}</td>
                <td>{anomaly.detector}</td>
                <td class="number">{formatNumber(anomaly.value)}</td>
                <td class="number">{formatNumber(anomaly.expected)}</td>
                <td class="number">{anomaly.score.toFixed(2)}</td>
                <td class="reason">{anomaly.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
