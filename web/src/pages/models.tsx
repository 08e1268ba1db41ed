/** Models: every registered version per name with its stage, metrics and training window, a supervised version's calibration; promote and roll back (admin). */
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { Calibration, ModelVersion } from '../api';
import { Badge, ConfirmButton, formatNumber, formatTime, LoadState } from '../components';
import type { PageProps } from '../main';
import { LinePlot } from '../plots/line-plot';
import { useLoad, useQuery } from '../state';

/** The API path of a model name: `bus_iforest/B3` → `/v1/models/bus_iforest/B3`. */
function modelPath(name: string): string {
  return `/v1/models/${name.split('/').map(encodeURIComponent).join('/')}`;
}

export function ModelsPage({ api, admin }: PageProps) {
  const [query, setQuery] = useQuery();
  const [loaded, reload] = useLoad(() => api.get<{ models: ModelVersion[] }>('/v1/models'), 'models');
  const byName = new Map<string, ModelVersion[]>();
  for (const version of loaded.data?.models ?? []) byName.set(version.name, [...(byName.get(version.name) ?? []), version]);
  const filter = (query.name ?? '').toLowerCase();
  const names = [...byName.keys()].filter((name) => name.toLowerCase().includes(filter));
  return (
    <div>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>
          Model
          <input type="search" value={query.name ?? ''} placeholder="filter by name" onInput={(event) => setQuery({ name: event.currentTarget.value }, true)} />
        </label>
      </form>
      <LoadState loaded={loaded} />
      {loaded.data !== undefined && names.length === 0 && <p class="muted">No registered model{filter ? ` matches "${filter}"` : ''}: a training run registers them.</p>}
      {names.map((name) => {
        const versions = byName.get(name) ?? [];
        const production = versions.find((version) => version.stage === 'production');
        const metricNames = [...new Set(versions.flatMap((version) => Object.keys(version.metrics ?? {})))].sort();
        return (
          <section class="model" aria-label={`model ${name}`}>
            <div class="row">
              <h2>{name}</h2>
              <span class="muted">{production === undefined ? 'no production version' : `production: v${production.version}`}</span>
              {admin && production !== undefined && (
                <ConfirmButton label="Roll back" question={`Make the version ${name} v${production.version} replaced production again?`} action={() => api.post(`${modelPath(name)}/rollback`)} onDone={reload} />
              )}
            </div>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Version</th>
                    <th>Stage</th>
                    <th>Detector</th>
                    <th>Training window</th>
                    {metricNames.map((metric) => (
                      <th class="number">{metric}</th>
                    ))}
                    <th>Created (UTC)</th>
                    {versions.some(isSupervised) && <th>Calibration</th>}
                    {admin && <th>Action</th>}
                  </tr>
                </thead>
                <tbody>
                  {versions.map((version) => (
                    <tr data-version={version.version}>
                      <td>v{version.version}</td>
                      <td>
                        <Badge status={version.stage} />
                      </td>
                      <td>{version.detector}</td>
                      <td>
                        {version.window.from}..{version.window.to}
                      </td>
                      {metricNames.map((metric) => (
                        <td class="number">{formatNumber(version.metrics?.[metric])}</td>
                      ))}
                      <td>{formatTime(version.createdAt)}</td>
                      {versions.some(isSupervised) && (
                        <td>
                          <button type="button" class="link" aria-pressed={query.calibration === `${name}@${version.version}`} onClick={() => setQuery({ calibration: `${name}@${version.version}` }, true)}>
                            show
                          </button>
                        </td>
                      )}
                      {admin && (
                        <td>
                          {version.stage !== 'production' && (
                            <ConfirmButton
                              label={`Promote v${version.version}`}
                              question={`Make ${name} v${version.version} production${production === undefined ? '' : ` in place of v${production.version}`}? Detection runs score with it from their next start.`}
                              action={() => api.post(`${modelPath(name)}/versions/${version.version}/promote`)}
                              onDone={reload}
                            />
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {versions
              .filter((version) => query.calibration === `${name}@${version.version}`)
              .map((version) => (
                <CalibrationPlot api={api} version={version} />
              ))}
          </section>
        );
      })}
    </div>
  );
}

/** A model of all rows with a label (logistic, gbdt): its artifact holds a calibration table. */
function isSupervised(version: ModelVersion): boolean {
  return version.entity === null;
}

/** Predicted probability against the observed rate per bin of validation rows, beside the diagonal of a calibrated model. */
function CalibrationPlot({ api, version }: { api: PageProps['api']; version: ModelVersion }) {
  const [loaded] = useLoad(() => api.get<Calibration>(`${modelPath(version.name)}/versions/${version.version}/calibration`), `${version.name}@${version.version}`);
  const data = useMemo((): uPlot.AlignedData | undefined => {
    const bins = loaded.data?.calibration;
    if (bins === undefined) return undefined;
    const predicted = bins.map((bin) => bin.mean_probability);
    return [predicted, bins.map((bin) => bin.observed_rate), predicted];
  }, [loaded.data]);
  return (
    <div class="calibration">
      <h3>
        Calibration of v{version.version}
        {loaded.data && <span class="muted"> ({loaded.data.label}, validation rows)</span>}
      </h3>
      <LoadState loaded={loaded} />
      {data !== undefined && (
        <LinePlot
          label={`observed rate against predicted probability of ${version.name} v${version.version}`}
          time={false}
          height={260}
          data={data}
          series={[{ label: 'predicted' }, { label: 'observed rate', stroke: '#2e86ab', width: 2, points: { show: true, size: 7 } }, { label: 'calibrated', stroke: '#7f8c8d', dash: [6, 4] }]}
        />
      )}
    </div>
  );
}
