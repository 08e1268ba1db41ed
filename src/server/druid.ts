/** The Druid broker, for rb-aioutliers' `query`: the query is posted as it is and the broker's JSON answer returned. */
import type { DetourConfig } from '../config/index.js';
import { InputError, oneLine, printableLine } from '../errors.js';
import { ApiError } from './errors.js';

/**
 * Posts `query` to the broker at `druid.url` and returns its parsed answer.
 *
 * @throws InputError without a broker configured, or when the broker refuses the query (4xx);
 *   ApiError 502 when it cannot be reached, fails, or answers with something that is not JSON.
 */
export async function queryDruid(druid: DetourConfig['druid'], query: unknown, signal?: AbortSignal): Promise<unknown> {
  if (druid.url === undefined) throw new InputError('a query needs a Druid broker: set druid.url in detour.yaml, or send the series itself as data');
  const signals = [AbortSignal.timeout(druid.timeoutSeconds * 1000), ...(signal === undefined ? [] : [signal])];
  let response: Response;
  let text: string;
  try {
    response = await fetch(druid.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(query), signal: AbortSignal.any(signals) });
    text = await response.text();
  } catch (error) {
    throw new ApiError(502, `Druid broker ${druid.url} did not answer: ${oneLine(error)}`, { cause: error });
  }
  const said = printableLine(text, 200);
  if (response.status >= 400 && response.status < 500) throw new InputError(`Druid refused the query (${response.status}): ${said}`);
  if (!response.ok) throw new ApiError(502, `Druid broker ${druid.url} failed (${response.status}): ${said}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(502, `Druid broker ${druid.url} answered with something that is not JSON: ${said}`, { cause: error });
  }
}
