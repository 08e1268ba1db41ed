/** Rows grouped by a dense integer code (a vehicle, a cell): a counting sort, linear in the rows. */

export interface CodeGroups {
  /** Row indices, grouped by code in ascending code order, in row order within a group. */
  rows: Int32Array;
  /** Group `c` is `rows[starts[c] .. starts[c + 1] - 1]`; length `codeCount + 1`. */
  starts: Int32Array;
}

/**
 * Groups rows by their code (0..codeCount-1); rows whose code is negative are left out. Within a
 * group, rows keep the order of `order` (default: row order), which may hold a subset of the rows.
 *
 * @example
 * groupByCode(Int32Array.of(1, 0, 1), 2) // → { rows: [1, 0, 2], starts: [0, 1, 3] }
 */
export function groupByCode(codes: Int32Array, codeCount: number, order?: Int32Array): CodeGroups {
  const rowOrder = order ?? identityOrder(codes.length);
  const starts = new Int32Array(codeCount + 1);
  for (let k = 0; k < rowOrder.length; k++) {
    const code = codes[rowOrder[k]];
    if (code >= 0) starts[code + 1]++;
  }
  for (let code = 0; code < codeCount; code++) starts[code + 1] += starts[code];
  const next = starts.slice(0, codeCount);
  const rows = new Int32Array(starts[codeCount]);
  for (let k = 0; k < rowOrder.length; k++) {
    const row = rowOrder[k];
    const code = codes[row];
    if (code >= 0) rows[next[code]++] = row;
  }
  return { rows, starts };
}

function identityOrder(length: number): Int32Array {
  const order = new Int32Array(length);
  for (let row = 0; row < length; row++) order[row] = row;
  return order;
}
