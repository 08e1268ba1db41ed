import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { Metrics, startMetricsServer, type MetricsServer } from '../../src/observability/index.js';

describe('metrics endpoint', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves run, step, row, retry and queue metrics in the Prometheus text format', async () => {
    let queueCalls = 0;
    const metrics = new Metrics({
      queueDepth: async () => {
        queueCalls++;
        return { waiting: 3, active: 1, failed: queueCalls };
      },
    });
    metrics.runsTotal.inc({ pipeline: 'flights', status: 'succeeded' });
    metrics.runsTotal.inc({ pipeline: 'flights', status: 'succeeded' });
    metrics.runsTotal.inc({ pipeline: 'rides', status: 'failed' });
    metrics.stepDuration.observe({ pipeline: 'flights', step: 'detect' }, 0.3);
    metrics.stepDuration.observe({ pipeline: 'flights', step: 'detect' }, 42);
    metrics.rowsProcessed.inc({ pipeline: 'flights', step: 'ingest' }, 1200);
    metrics.stepRetries.inc({ pipeline: 'flights', step: 'ingest' });

    server = await startMetricsServer({ metrics, port: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);

    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const lines = text.split('\n');

    expect(lines).toContain('detour_runs_total{pipeline="flights",status="succeeded"} 2');
    expect(lines).toContain('detour_runs_total{pipeline="rides",status="failed"} 1');
    expect(lines).toContain('detour_step_duration_seconds_bucket{le="0.05",pipeline="flights",step="detect"} 0');
    expect(lines).toContain('detour_step_duration_seconds_bucket{le="0.5",pipeline="flights",step="detect"} 1');
    expect(lines).toContain('detour_step_duration_seconds_bucket{le="60",pipeline="flights",step="detect"} 2');
    expect(lines).toContain('detour_step_duration_seconds_bucket{le="600",pipeline="flights",step="detect"} 2');
    expect(lines).toContain('detour_step_duration_seconds_count{pipeline="flights",step="detect"} 2');
    expect(lines).toContain('detour_step_duration_seconds_sum{pipeline="flights",step="detect"} 42.3');
    expect(lines).toContain('detour_rows_processed_total{pipeline="flights",step="ingest"} 1200');
    expect(lines).toContain('detour_step_retries_total{pipeline="flights",step="ingest"} 1');
    expect(lines).toContain('detour_queue_depth{state="waiting"} 3');
    expect(lines).toContain('detour_queue_depth{state="active"} 1');
    expect(lines).toContain('detour_queue_depth{state="failed"} 1');
    // Default Node process metrics, under detour's prefix.
    expect(text).toMatch(/^detour_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^detour_nodejs_heap_size_used_bytes \d/m);

    // The queue is asked again at each scrape, so the gauge follows it.
    const second = await (await fetch(`${server.url}/metrics`)).text();
    expect(second.split('\n')).toContain('detour_queue_depth{state="failed"} 2');
  });

  it('keeps serving the other metrics when the queue cannot be read', async () => {
    const metrics = new Metrics({
      queueDepth: async () => {
        throw new Error('redis down');
      },
    });
    metrics.runsTotal.inc({ pipeline: 'flights', status: 'failed' });
    server = await startMetricsServer({ metrics, port: 0 });
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    const lines = (await response.text()).split('\n');
    expect(lines).toContain('detour_runs_total{pipeline="flights",status="failed"} 1');
    expect(lines).toContain('detour_queue_depth_errors_total 1');
    expect(lines.some((line) => line.startsWith('detour_queue_depth{'))).toBe(false);
  });

  it('keeps two Metrics instances apart', async () => {
    const first = new Metrics();
    const second = new Metrics();
    first.runsTotal.inc({ pipeline: 'flights', status: 'succeeded' });
    expect(await first.text()).toContain('detour_runs_total{pipeline="flights",status="succeeded"} 1');
    expect(await second.text()).not.toContain('detour_runs_total{');
  });

  it('answers /healthz with ok and unknown routes with a 404 error body', async () => {
    server = await startMetricsServer({ metrics: new Metrics(), port: 0 });

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const missing = await fetch(`${server.url}/nope?x=1`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ status: 'error', msg: 'no route GET /nope' });
  });

  it('rejects a port it cannot use as bad input', async () => {
    await expect(startMetricsServer({ metrics: new Metrics(), port: 70000 })).rejects.toThrow(InputError);
    server = await startMetricsServer({ metrics: new Metrics(), port: 0 });
    const port = Number(new URL(server.url).port);
    await expect(startMetricsServer({ metrics: new Metrics(), port })).rejects.toThrow(/cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });
});
