import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { detour } from '../helpers/cli.js';

describe('detour eval', () => {
  let cwd: string;
  let corpus: string;
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-eval-'));
    corpus = path.join(cwd, 'nab');
    const sampled = await detour(cwd, 'sample', 'traffic', '--nab', corpus, '--sensors', '2', '--days', '4');
    expect(sampled.code, sampled.stderr).toBe(0);
  }, 120_000);

  it('scores the streaming detector on the NAB-format traffic sample, as a table and as JSON', async () => {
    const table = await detour(cwd, 'eval', '--detector', 'stream', '--data', corpus, '--labels', path.join(corpus, 'labels.json'));
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^sensor-01\.csv +5,7\d\d /m);
    expect(table.stdout).toMatch(/^NAB score \(standard\) of stream: -?\d+\.\d/m);
    const json = await detour(cwd, 'eval', '--detector', 'stream', '--params', '{"threshold":6}', '--profile', 'low_fn', '--data', corpus, '--labels', path.join(corpus, 'labels.json'), '--json');
    expect(json.code, json.stderr).toBe(0);
    const evaluation = JSON.parse(json.stdout);
    expect(evaluation).toMatchObject({ detector: 'stream', profile: 'low_fn', files: [{ file: 'sensor-01.csv' }, { file: 'sensor-02.csv' }] });
    expect(evaluation.total.null).toBe(-2 * evaluation.total.windows);
    expect(evaluation.total.normalised).toBeLessThanOrEqual(100);
  }, 120_000);

  it('gives a record detector\'s precision and recall per label', async () => {
    // A 10 × 10 grid DBSCAN clusters, three far records labelled spike and one far record labelled normal.
    const lines = ['x,y,kind'];
    for (let i = 0; i < 100; i++) lines.push(`${i % 10},${Math.floor(i / 10)},`);
    lines.push('50,50,spike', '60,-40,spike', '-70,20,spike', '40,90,0');
    const input = path.join(cwd, 'records.csv');
    await writeFile(input, `${lines.join('\n')}\n`);
    const result = await detour(cwd, 'eval', '--detector', 'dbscan', '--params', '{"eps":1.5,"minSamples":3,"scale":"none"}', '--input', input, '--features', 'x,y', '--label', 'kind', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ records: 104, flagged: 4, falseAlarms: 1, precision: 0.75, recall: 1, byLabel: [{ label: 'spike', records: 3, flagged: 3, recall: 1, precision: 0.75 }] });
    const table = await detour(cwd, 'eval', '--detector', 'dbscan', '--params', '{"eps":1.5,"minSamples":3,"scale":"none"}', '--input', input, '--features', 'x,y', '--label', 'kind');
    expect(table.stdout).toMatch(/^spike +3 +3 +1\.000 +0\.750$/m);
    const unlabelled = await detour(cwd, 'eval', '--detector', 'dbscan', '--input', input, '--features', 'x,y');
    expect(unlabelled.code).toBe(2);
    expect(unlabelled.stderr.trim()).toBe('detour: --input needs --features and --label');
  }, 120_000);

  it('refuses bad input with one line on stderr and exit code 2', async () => {
    const labels = path.join(corpus, 'labels.json');
    const write = async (name: string, text: string) => {
      const file = path.join(cwd, name);
      await writeFile(file, text);
      return file;
    };
    const cases: [string[], RegExp][] = [
      [['--data', path.join(cwd, 'nowhere'), '--labels', labels], /--data .*nowhere: no such folder/],
      [['--data', corpus, '--labels', path.join(cwd, 'none.json')], /--labels .*none\.json: no such file/],
      [['--data', corpus, '--labels', await write('broken.json', '{"a.csv": [')], /--labels .*broken\.json: not JSON/],
      [['--data', corpus, '--labels', await write('shape.json', '{"sensor-01.csv": ["2024-03-04 00:00:00"]}')], /expected an object of file name → list of \[start, end\] timestamps/],
      [['--data', corpus, '--labels', await write('missing.json', '{"sensor-09.csv": []}')], /no file sensor-09\.csv, which the labels name/],
      [['--data', corpus, '--labels', await write('reversed.json', '{"sensor-01.csv": [["2024-03-05 00:00:00", "2024-03-04 00:00:00"]]}')], /ends before it starts/],
      [['--data', corpus, '--labels', labels, '--params', '{"treshold": 4}'], /stream params\.treshold: unknown parameter/],
      [['--data', corpus, '--labels', labels, '--params', 'nope'], /--params must be a JSON object/],
    ];
    for (const [args, message] of cases) {
      const result = await detour(cwd, 'eval', '--detector', 'stream', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const unknown = await detour(cwd, 'eval', '--detector', 'dbscan', '--data', corpus, '--labels', labels);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--detector dbscan: not a series detector/);
  }, 240_000);
});
