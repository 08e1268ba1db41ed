import { describe, expect, it } from 'vitest';
import { forecastAccuracy, ForecastErrors, isForecaster, mergeForecastErrors } from '../../src/pipeline/forecast-errors.js';

const DAY = '2024-05-01';
const NEXT = '2024-05-02';

describe('forecast errors: MAE and MAPE of series detectors\' forecasts', () => {
  it('leaves out points without a value or a forecast, and zero values from MAPE only', () => {
    const errors = new ForecastErrors();
    errors.addPoints('stream', undefined, () => DAY, [10, 0, 20, Number.NaN, 5], [12, 1, 15, 3, Number.NaN]);
    expect(forecastAccuracy(errors.sums())).toEqual([{ date: DAY, detector: 'stream', model: null, points: 3, mae: (2 + 1 + 5) / 3, mapePoints: 2, mape: (100 * (2 / 10 + 5 / 20)) / 2 }]);
  });

  it('has no MAPE for a day whose values are all zero', () => {
    const errors = new ForecastErrors();
    errors.addPoints('arima', undefined, () => DAY, [0, 0], [1, 3]);
    expect(forecastAccuracy(errors.sums())).toEqual([{ date: DAY, detector: 'arima', model: null, points: 2, mae: 2, mapePoints: 0, mape: null }]);
  });

  it('adds up shards\' sums per date, detector and model version before dividing', () => {
    const model = { name: 'meter_ae', version: 2 };
    const shard = (values: number[], expected: number[], dates: string[]) => {
      const errors = new ForecastErrors();
      errors.addPoints('autoencoder', model, (k) => dates[k], values, expected);
      return errors.sums();
    };
    const merged = mergeForecastErrors([...shard([4, 8], [5, 6], [DAY, NEXT]), ...shard([10, 10, 10], [10, 13, 4], [DAY, DAY, NEXT])]);
    expect(merged).toHaveLength(2);
    expect(forecastAccuracy(merged)).toEqual([
      { date: DAY, detector: 'autoencoder', model, points: 3, mae: (1 + 0 + 3) / 3, mapePoints: 3, mape: (100 * (1 / 4 + 0 + 3 / 10)) / 3 },
      { date: NEXT, detector: 'autoencoder', model, points: 2, mae: (2 + 6) / 2, mapePoints: 2, mape: (100 * (2 / 8 + 6 / 10)) / 2 },
    ]);
  });

  it('orders rows by date, detector, then model (none first), as the store lists them', () => {
    const errors = new ForecastErrors();
    errors.addPoints('stream', undefined, () => NEXT, [1], [1]);
    errors.addPoints('shallow', undefined, () => DAY, [1], [1]);
    errors.addPoints('autoencoder', { name: 'ae', version: 1 }, () => DAY, [1], [1]);
    errors.addPoints('autoencoder', undefined, () => DAY, [1], [1]);
    expect(forecastAccuracy(errors.sums()).map((row) => [row.date, row.detector, row.model?.version ?? null])).toEqual([
      [DAY, 'autoencoder', null],
      [DAY, 'autoencoder', 1],
      [DAY, 'shallow', null],
      [NEXT, 'stream', null],
    ]);
  });

  it.each([
    ['arima', true],
    ['stream', true],
    ['autoencoder', true],
    ['shallow', true],
    ['iforest', false],
    ['dbscan', false],
  ])('%s forecasts: %s', (detector, expected) => {
    expect(isForecaster(detector)).toBe(expected);
  });
});
