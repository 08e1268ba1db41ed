/**
 * DBSCAN on a uniform grid (Gunawan's 2-D algorithm, generalised to 1..4 features), with the exact
 * semantics of scikit-learn's `DBSCAN(metric='euclidean')`.
 *
 * The grid's cell side is a hair under eps/sqrt(d), so any two points sharing a cell are neighbours:
 * a cell holding >= minSamples points is core as a whole, and all core points of a cell belong to the
 * same cluster. Clusters are then connected components of a union-find over cells, and only points
 * in sparse cells ever need their neighbours counted.
 *
 * Cells live in a dense array when the grid is small enough (the common case); otherwise the points
 * are radix-sorted by cell coordinates and neighbour cells are found by a forward-only sweep over
 * the sorted cells, which reads memory in order where a hash lookup per neighbour cell would not.
 *
 * Distances are compared squared (`sum (a_k - b_k)^2 <= eps^2`), as sklearn's KD/ball trees do.
 */
import { InputError } from '../errors.js';

/** Parameters of {@link dbscan}, as in scikit-learn. */
export interface DbscanOptions {
  /** Neighbourhood radius: points at Euclidean distance <= eps are neighbours. */
  eps: number;
  /** Neighbourhood size, the point itself included, from which a point is core. */
  minSamples: number;
}

/** Result of {@link dbscan}, indexed like the input rows. */
export interface DbscanResult {
  /** Cluster of each row: -1 for noise, else 0..clusterCount-1. */
  labels: Int32Array;
  /** 1 where the row is a core point, else 0. */
  isCore: Uint8Array;
  clusterCount: number;
}

const MAX_FEATURES = 4;
/** Dense grid positions must stay well inside Int32. */
const MAX_DENSE_GRID_CELLS = 2 ** 30;
/** A dense grid may always use this many cells (16 MiB), whatever n is. */
const MIN_DENSE_GRID_CELLS = 2 ** 22;
/** Cells shrink by this relative amount, so that rounding cannot put points over eps apart in one cell... */
const BASE_SHRINK = 1e-9;
/** ...plus this much per cell of span: the rounding of `(value - origin) * invSide` grows with the span. */
const SHRINK_PER_SPAN_CELL = 4e-15;
/** Cell coordinates must stay well inside Int32 (and the cell-side shrink tiny). */
const MAX_AXIS_CELLS = 2 ** 30;
/** Bins per axis when looking for gaps to squeeze out of the grid (few enough to stay in cache). */
const GAP_BINS = 2 ** 16;
/** Widest radix digit when sorting records by cell (2048 buckets keep the scatter cache-friendly). */
const MAX_RADIX_DIGIT_BITS = 11;
/** Larger than any cluster id. */
const NO_CLUSTER = 0x7fffffff;

/**
 * How one axis maps values to integer cell coordinates. Values are split into segments separated by
 * gaps wider than 2 * eps (twice, so that rounding cannot make a pair across a gap look within eps);
 * each segment has its own origin and starts `reach + 1` cells after the last cell of the previous
 * one. A single segment is the plain grid; several squeeze out empty space, so that far outliers
 * neither blow up the grid nor cost precision.
 */
interface AxisLayout {
  /** Lowest value of each segment, ascending. */
  origins: Float64Array;
  /** Highest minus lowest value of each segment. */
  spans: Float64Array;
  /** Cell coordinate of each segment's origin. */
  bases: Float64Array;
  /** Cell coordinates along this axis are 0..cells-1. */
  cells: number;
}

/** Points bucketed into grid cells; "slots" are positions in the cell-sorted point order. */
interface CellGrid {
  dims: number;
  cellCount: number;
  /** Cell c holds slots cellStart[c] .. cellStart[c+1]-1. */
  cellStart: Int32Array;
  /** Input row of each slot. */
  slotRow: Int32Array;
  /** Coordinates of each slot, interleaved: slotCoords[slot * dims + k]. */
  slotCoords: Float64Array;
  /** Bounding box of each cell's points: dims lows then dims highs per cell. */
  cellBox: Float64Array;
  /** Cell of each input row. */
  rowCell: Int32Array;
  /** Most neighbour cells a cell can have. */
  stencilSize: number;
  /** Dense grid: grid position -> cell id or -1; empty for a sorted grid. */
  denseIndex: Int32Array;
  /** Dense grid: grid position of each cell. */
  cellPosition: Int32Array;
  /** Dense grid: position deltas of the neighbouring cells, nearest first. */
  stencilDeltas: Int32Array;
  /** The neighbouring cells, as rows along the last axis. */
  rows: NeighbourRows;
  /** Sorted grid: cell coordinates, dims per cell, in increasing lexicographic order (axis 0 first). */
  cellKeys: Int32Array;
  /** Sorted grid: the grid row (cells sharing coordinates on axes 0..d-2) of each cell. */
  cellGridRow: Int32Array;
  /** Sorted grid: first cell of each grid row, then cellCount. */
  gridRowStart: Int32Array;
}

/**
 * The neighbouring cells as rows along the last axis: neighbour row r holds the cells whose
 * coordinates on axes 0..d-2 differ by `offsets[r * (d - 1) ..]` and on the last axis by at most
 * `reach[r]`. `gaps[r]` is the row's distance bound (see neighbourRows).
 */
interface NeighbourRows {
  offsets: Int32Array;
  reach: Int32Array;
  gaps: Int32Array;
}

/**
 * Clusters points with DBSCAN, exactly as scikit-learn's `DBSCAN(eps, min_samples).fit(X)` labels
 * them: neighbourhoods use Euclidean distance <= eps and include the point itself; a point is core
 * when its neighbourhood has >= minSamples points; clusters are numbered in order of their
 * lowest-index core point; a border point joins the lowest-numbered cluster among the core points
 * within eps; everything else is noise (-1).
 *
 * Runs in O(n) memory and near-linear time for typical data.
 *
 * @param columns one Float64Array per feature (1 to 4 features), all of the same length n.
 * @throws InputError on bad options, a wrong number of features, mismatched lengths or non-finite values.
 */
export function dbscan(columns: readonly Float64Array[], options: DbscanOptions): DbscanResult {
  const rowCount = validateColumns(columns, 'dbscan');
  const { eps, minSamples } = options;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw new InputError(`dbscan: eps must be a finite number > 0, got ${eps}`);
  }
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new InputError(`dbscan: minSamples must be an integer >= 1, got ${minSamples}`);
  }
  if (rowCount === 0) return { labels: new Int32Array(0), isCore: new Uint8Array(0), clusterCount: 0 };

  const epsSquared = eps * eps;
  const grid = buildGrid(columns, rowCount, eps);
  const slotIsCore = findCorePoints(grid, epsSquared, minSamples);
  const coreEnd = moveCoresFirst(grid, slotIsCore);
  const { parent, nearCore } = linkCoreCells(grid, coreEnd, epsSquared);

  const isCore = new Uint8Array(rowCount);
  for (let slot = 0; slot < rowCount; slot++) isCore[grid.slotRow[slot]] = slotIsCore[slot];
  const { labels, clusterCount, cellCluster } = numberClusters(grid, isCore, parent, coreEnd);
  labelBorderPoints(grid, coreEnd, nearCore, cellCluster, epsSquared, labels);
  return { labels, isCore, clusterCount };
}

/**
 * For each query row, the Euclidean distance to the nearest core point (0 for a core point itself),
 * or Infinity when there is no core point. Used to score DBSCAN outliers.
 *
 * Core points are sorted in Z-order on a fine grid (a radix sort, linear time) and a bounding-box
 * hierarchy over runs of that order is searched nearest-box-first, so it stays fast for many queries
 * on millions of points.
 *
 * @param columns the features given to {@link dbscan}.
 * @param isCore the `isCore` of the {@link dbscan} result.
 * @param queryIndices rows to score.
 * @throws InputError on malformed columns, an isCore of the wrong length or an out-of-range index.
 */
export function nearestCoreDistance(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  queryIndices: Int32Array | number[],
): Float64Array {
  const rowCount = validateColumns(columns, 'nearestCoreDistance');
  const dims = columns.length;
  if (isCore.length !== rowCount) {
    throw new InputError(`nearestCoreDistance: isCore has ${isCore.length} entries for ${rowCount} rows`);
  }
  for (let q = 0; q < queryIndices.length; q++) {
    const row = queryIndices[q];
    if (!Number.isInteger(row) || row < 0 || row >= rowCount) {
      throw new InputError(`nearestCoreDistance: query index ${row} is not a row of 0..${rowCount - 1}`);
    }
  }
  const { lows, highs } = axisRanges(columns, rowCount, 'nearestCoreDistance');
  const tree = buildBoxTree(columns, isCore, lows, highs);

  const distances = new Float64Array(queryIndices.length);
  const query = new Float64Array(dims);
  for (let q = 0; q < queryIndices.length; q++) {
    const row = queryIndices[q];
    if (isCore[row] !== 0) continue;
    for (let k = 0; k < dims; k++) query[k] = columns[k][row];
    distances[q] = Math.sqrt(nearestSquaredDistance(tree, query));
  }
  return distances;
}

function validateColumns(columns: readonly Float64Array[], caller: string): number {
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > MAX_FEATURES) {
    const count = Array.isArray(columns) ? columns.length : typeof columns;
    throw new InputError(`${caller}: expected 1 to ${MAX_FEATURES} feature columns, got ${count}`);
  }
  for (let k = 0; k < columns.length; k++) {
    if (!(columns[k] instanceof Float64Array)) throw new InputError(`${caller}: feature ${k} is not a Float64Array`);
    if (columns[k].length !== columns[0].length) {
      throw new InputError(
        `${caller}: feature ${k} has ${columns[k].length} values but feature 0 has ${columns[0].length}`,
      );
    }
  }
  return columns[0].length;
}

/** Min and max of every column; throws on the first NaN or infinite value. */
function axisRanges(columns: readonly Float64Array[], rowCount: number, caller: string) {
  const lows = new Float64Array(columns.length);
  const highs = new Float64Array(columns.length);
  for (let k = 0; k < columns.length; k++) {
    const column = columns[k];
    let low = Infinity;
    let high = -Infinity;
    let sawNaN = false;
    for (let row = 0; row < rowCount; row++) {
      const value = column[row];
      if (value < low) low = value;
      if (value > high) high = value;
      if (value !== value) sawNaN = true;
    }
    if (sawNaN || !Number.isFinite(low) || !Number.isFinite(high)) {
      const row = column.findIndex((value) => !Number.isFinite(value));
      throw new InputError(`${caller}: feature ${k} has a non-finite value (${column[row]}) at row ${row}`);
    }
    lows[k] = low;
    highs[k] = high;
  }
  return { lows, highs };
}

// ---------------------------------------------------------------------------------------------
// Grid

/** Cells per axis a neighbour can be away: the smallest r with r^2 > dims (cell side < eps/sqrt(dims)). */
function reachFor(dims: number): number {
  return Math.floor(Math.sqrt(dims)) + 1;
}

/**
 * The cells that can hold a neighbour, as rows along the last axis. A cell at offset o is at least
 * side * sqrt(gap) away, with gap = sum max(|o_k| - 1, 0)^2, so it matters while gap <= dims;
 * corners at exactly that bound are kept for the `<=` edge case. Rows come nearest first.
 */
function neighbourRows(dims: number): NeighbourRows {
  const reach = reachFor(dims);
  const width = 2 * reach + 1;
  const rows: { offset: number[]; gap: number; reach: number }[] = [];
  for (let code = 0; code < width ** (dims - 1); code++) {
    const offset: number[] = [];
    let gap = 0;
    for (let k = 0, rest = code; k < dims - 1; k++, rest = Math.floor(rest / width)) {
      const o = (rest % width) - reach;
      offset.push(o);
      gap += offsetGap(o);
    }
    if (gap > dims) continue;
    let rowReach = 1;
    while (rowReach < reach && gap + offsetGap(rowReach + 1) <= dims) rowReach++;
    rows.push({ offset, gap, reach: rowReach });
  }
  rows.sort((a, b) => a.gap - b.gap);
  return {
    offsets: Int32Array.from(rows.flatMap((row) => row.offset)),
    reach: Int32Array.from(rows, (row) => row.reach),
    gaps: Int32Array.from(rows, (row) => row.gap),
  };
}

/** Whole cells between a cell and one `offset` cells away along an axis, squared. */
function offsetGap(offset: number): number {
  return Math.max(Math.abs(offset) - 1, 0) ** 2;
}

function stencilSize(rows: NeighbourRows): number {
  return rows.reach.reduce((sum, reach) => sum + 2 * reach + 1, 0) - 1;
}

function singleSegment(low: number, high: number): AxisLayout {
  return { origins: Float64Array.of(low), spans: Float64Array.of(high - low), bases: new Float64Array(1), cells: 0 };
}

/**
 * Splits one axis at gaps wider than 2 * eps (no pair across such a gap can be within eps), in
 * linear time: values are binned, and the gaps between consecutive non-empty bins are exact; gaps
 * inside a bin are missed, which only leaves a segment wider than it could be.
 */
function binnedGapSegments(column: Float64Array, low: number, high: number, eps: number): AxisLayout {
  const binLows = new Float64Array(GAP_BINS).fill(Infinity);
  const binHighs = new Float64Array(GAP_BINS).fill(-Infinity);
  const scale = GAP_BINS / (high - low);
  for (let row = 0; row < column.length; row++) {
    const value = column[row];
    // NaN (an overflowing range) goes to bin 0.
    const bin = Math.min(GAP_BINS - 1, Math.floor((value - low) * scale)) || 0;
    if (value < binLows[bin]) binLows[bin] = value;
    if (value > binHighs[bin]) binHighs[bin] = value;
  }
  return segmentsFromRuns(binLows, binHighs, eps);
}

/** Splits one axis at every gap wider than 2 * eps, by sorting its values. */
function sortedGapSegments(column: Float64Array, eps: number): AxisLayout {
  const sorted = column.slice().sort();
  return segmentsFromRuns(sorted, sorted, eps);
}

/** Segments from ascending runs of values (run i spans lows[i]..highs[i]; empty when lows[i] > highs[i]). */
function segmentsFromRuns(lows: Float64Array, highs: Float64Array, eps: number): AxisLayout {
  const gap = 2 * eps;
  const origins: number[] = [];
  const spans: number[] = [];
  let previous = -Infinity;
  for (let run = 0; run < lows.length; run++) {
    if (lows[run] > highs[run]) continue;
    if (origins.length === 0) {
      origins.push(lows[run]);
    } else if (lows[run] - previous > gap) {
      spans.push(previous - origins[origins.length - 1]);
      origins.push(lows[run]);
    }
    previous = highs[run];
  }
  spans.push(previous - origins[origins.length - 1]);
  return {
    origins: Float64Array.from(origins),
    spans: Float64Array.from(spans),
    bases: new Float64Array(origins.length),
    cells: 0,
  };
}

/** Largest segment span, in cells of side eps / sqrt(dims). */
function widestSpanInCells(axes: readonly AxisLayout[], eps: number): number {
  const unshrunkSide = eps / Math.sqrt(axes.length);
  let widest = 0;
  for (const axis of axes) for (const span of axis.spans) widest = Math.max(widest, span / unshrunkSide);
  return widest;
}

/**
 * Chooses the cell side for these segments and fills in each axis's bases and cell count; the
 * counts are Infinity when a segment spans more than MAX_AXIS_CELLS cells.
 */
function placeSegments(axes: readonly AxisLayout[], eps: number): number {
  const widest = widestSpanInCells(axes, eps);
  if (!(widest <= MAX_AXIS_CELLS)) {
    for (const axis of axes) axis.cells = Infinity;
    return 0;
  }
  const reach = reachFor(axes.length);
  const shrink = BASE_SHRINK + SHRINK_PER_SPAN_CELL * widest;
  const invSide = 1 / ((eps / Math.sqrt(axes.length)) * (1 - shrink));
  for (const axis of axes) {
    let base = 0;
    for (let s = 0; s < axis.origins.length; s++) {
      axis.bases[s] = base;
      // Same expression as cellCoordinate() on the segment's highest value, so it is its exact cell.
      const lastCell = base + Math.floor(axis.spans[s] * invSide);
      axis.cells = lastCell + 1;
      base = lastCell + reach + 1;
    }
  }
  return invSide;
}

/** Cells of a dense grid over these axes, each padded by `reach` cells on both sides. */
function paddedGridCells(axes: readonly AxisLayout[]): number {
  const reach = reachFor(axes.length);
  let cells = 1;
  for (const axis of axes) cells *= axis.cells + 2 * reach;
  return cells;
}

function cellCoordinate(axis: AxisLayout, invSide: number, value: number): number {
  const origins = axis.origins;
  let segment = 0;
  if (origins.length > 1) {
    let high = origins.length - 1;
    while (segment < high) {
      const middle = (segment + high + 1) >>> 1;
      if (origins[middle] <= value) segment = middle;
      else high = middle - 1;
    }
  }
  return axis.bases[segment] + Math.floor((value - origins[segment]) * invSide);
}

function buildGrid(columns: readonly Float64Array[], rowCount: number, eps: number): CellGrid {
  const denseLimit = Math.min(MAX_DENSE_GRID_CELLS, Math.max(4 * rowCount, MIN_DENSE_GRID_CELLS));
  const { lows, highs } = axisRanges(columns, rowCount, 'dbscan');

  // The plain grid when a dense array of it fits; else squeeze out empty space, which may make it
  // fit; else sort the cells. Sorting the values finds every gap, for ranges binning cannot split.
  let axes = Array.from(lows, (low, k) => singleSegment(low, highs[k]));
  let invSide = placeSegments(axes, eps);
  if (paddedGridCells(axes) > denseLimit) {
    axes = columns.map((column, k) => binnedGapSegments(column, lows[k], highs[k], eps));
    invSide = placeSegments(axes, eps);
    if (!axes.every((axis) => axis.cells <= MAX_AXIS_CELLS)) {
      axes = columns.map((column) => sortedGapSegments(column, eps));
      invSide = placeSegments(axes, eps);
      if (!axes.every((axis) => axis.cells <= MAX_AXIS_CELLS)) {
        throw new InputError(`dbscan: feature values span too wide a range to represent for eps ${eps}`);
      }
    }
  }
  const grid =
    paddedGridCells(axes) <= denseLimit
      ? bucketDense(columns, rowCount, axes, invSide)
      : bucketSorted(columns, rowCount, axes, invSide);
  computeCellBoxes(grid);
  return grid;
}

/** Assigns rows to cells through a dense grid; cell ids follow grid order (last axis fastest). */
function bucketDense(
  columns: readonly Float64Array[],
  rowCount: number,
  axes: readonly AxisLayout[],
  invSide: number,
): CellGrid {
  const dims = columns.length;
  const reach = reachFor(dims);
  const strides = new Array<number>(dims);
  for (let k = dims - 1, stride = 1; k >= 0; stride *= axes[k].cells + 2 * reach, k--) strides[k] = stride;

  // rowCell first holds grid positions, denseIndex the point count per position.
  const gridCells = paddedGridCells(axes);
  const denseIndex = new Int32Array(gridCells);
  const rowCell = new Int32Array(rowCount);
  for (let row = 0; row < rowCount; row++) {
    let position = 0;
    for (let k = 0; k < dims; k++) {
      position += (cellCoordinate(axes[k], invSide, columns[k][row]) + reach) * strides[k];
    }
    rowCell[row] = position;
    denseIndex[position]++;
  }
  let cellCount = 0;
  for (let position = 0; position < gridCells; position++) if (denseIndex[position] > 0) cellCount++;
  const cellStart = new Int32Array(cellCount + 1);
  const cellPosition = new Int32Array(cellCount);
  for (let position = 0, cell = 0; position < gridCells; position++) {
    const count = denseIndex[position];
    if (count === 0) {
      denseIndex[position] = -1;
      continue;
    }
    cellStart[cell + 1] = cellStart[cell] + count;
    cellPosition[cell] = position;
    denseIndex[position] = cell++;
  }
  for (let row = 0; row < rowCount; row++) rowCell[row] = denseIndex[rowCell[row]];

  // Stencil: every cell of every neighbour row, the cell itself excluded, nearest first.
  const rows = neighbourRows(dims);
  const stencil: { delta: number; gap: number }[] = [];
  for (let r = 0; r < rows.reach.length; r++) {
    let rowDelta = 0;
    for (let k = 0; k < dims - 1; k++) rowDelta += rows.offsets[r * (dims - 1) + k] * strides[k];
    for (let last = -rows.reach[r]; last <= rows.reach[r]; last++) {
      if (rowDelta === 0 && last === 0) continue;
      stencil.push({ delta: rowDelta + last, gap: rows.gaps[r] + offsetGap(last) });
    }
  }
  stencil.sort((a, b) => a.gap - b.gap);

  // Counting sort of the rows into slots, coordinates alongside.
  const slotRow = new Int32Array(rowCount);
  const slotCoords = new Float64Array(rowCount * dims);
  const nextSlot = cellStart.slice(0, cellCount);
  for (let row = 0; row < rowCount; row++) {
    const slot = nextSlot[rowCell[row]]++;
    slotRow[slot] = row;
    for (let k = 0; k < dims; k++) slotCoords[slot * dims + k] = columns[k][row];
  }
  const grid = newGrid(dims, cellStart, rowCell, slotRow, slotCoords, rows);
  grid.denseIndex = denseIndex;
  grid.cellPosition = cellPosition;
  grid.stencilDeltas = Int32Array.from(stencil, (entry) => entry.delta);
  return grid;
}

/**
 * Assigns rows to cells by an LSD radix sort of (cell coordinates, row) records, for grids too big
 * for an array; cell ids follow the sorted (lexicographic) order.
 */
function bucketSorted(
  columns: readonly Float64Array[],
  rowCount: number,
  axes: readonly AxisLayout[],
  invSide: number,
): CellGrid {
  const dims = columns.length;
  const width = dims + 1;
  // Coordinates travel with the records, which beats gathering them afterwards in random order.
  const unsortedRecords = new Int32Array(rowCount * width);
  const unsortedCoords = new Float64Array(rowCount * dims);
  for (let row = 0; row < rowCount; row++) {
    for (let k = 0; k < dims; k++) {
      const value = columns[k][row];
      unsortedRecords[row * width + k] = cellCoordinate(axes[k], invSide, value);
      unsortedCoords[row * dims + k] = value;
    }
    unsortedRecords[row * width + dims] = row;
  }
  // Lexicographic order: the last axis is the least significant key.
  const keys = axes.map((axis, k) => ({ field: k, bits: 32 - Math.clz32(axis.cells - 1) })).reverse();
  const { records, payload: coords } = radixSortRecords(unsortedRecords, width, unsortedCoords, dims, keys);

  // Runs of equal coordinates are the cells.
  let cellCount = 0;
  for (let i = 0; i < rowCount; i++) {
    if (i === 0 || !sameCell(records, width, dims, i, i - 1)) cellCount++;
  }
  const cellStart = new Int32Array(cellCount + 1);
  const cellKeys = new Int32Array(cellCount * dims);
  const rowCell = new Int32Array(rowCount);
  const slotRow = new Int32Array(rowCount);
  for (let i = 0, cell = -1; i < rowCount; i++) {
    if (i === 0 || !sameCell(records, width, dims, i, i - 1)) {
      cell++;
      cellStart[cell] = i;
      for (let k = 0; k < dims; k++) cellKeys[cell * dims + k] = records[i * width + k];
    }
    const row = records[i * width + dims];
    rowCell[row] = cell;
    slotRow[i] = row;
  }
  cellStart[cellCount] = rowCount;

  // Grid rows: runs of cells sharing all coordinates but the last.
  const cellGridRow = new Int32Array(cellCount);
  const rowStarts: number[] = [];
  for (let cell = 0; cell < cellCount; cell++) {
    const newGridRow = cell === 0 || comparePrefixes(cellKeys, dims, cell, cell - 1, ZERO_OFFSETS, 0) !== 0;
    if (newGridRow) rowStarts.push(cell);
    cellGridRow[cell] = rowStarts.length - 1;
  }
  rowStarts.push(cellCount);

  const grid = newGrid(dims, cellStart, rowCell, slotRow, coords, neighbourRows(dims));
  grid.cellKeys = cellKeys;
  grid.cellGridRow = cellGridRow;
  grid.gridRowStart = Int32Array.from(rowStarts);
  return grid;
}

function sameCell(records: Int32Array, width: number, dims: number, a: number, b: number): boolean {
  for (let k = 0; k < dims; k++) if (records[a * width + k] !== records[b * width + k]) return false;
  return true;
}

/**
 * Stable LSD radix sort of records of `width` non-negative Int32 fields, each carrying
 * `payloadWidth` Float64 values along. `keys` are fields with their significant bits, least
 * significant first. Returns the sorted arrays (the inputs are reused as scratch).
 */
function radixSortRecords(
  records: Int32Array,
  width: number,
  payload: Float64Array,
  payloadWidth: number,
  keys: readonly { field: number; bits: number }[],
): { records: Int32Array; payload: Float64Array } {
  const count = records.length / width;
  let spare: Int32Array = new Int32Array(records.length);
  let sparePayload: Float64Array = new Float64Array(payload.length);
  const starts = new Int32Array(1 << MAX_RADIX_DIGIT_BITS);
  for (const { field, bits } of keys) {
    const digitBits = Math.ceil(bits / Math.ceil(bits / MAX_RADIX_DIGIT_BITS));
    for (let shift = 0; shift < bits; shift += digitBits) {
      const mask = 2 ** Math.min(digitBits, bits - shift) - 1;
      starts.fill(0);
      for (let i = 0; i < count; i++) starts[(records[i * width + field] >>> shift) & mask]++;
      for (let digit = 0, start = 0; digit <= mask; digit++) {
        const size = starts[digit];
        starts[digit] = start;
        start += size;
      }
      for (let i = 0; i < count; i++) {
        const target = starts[(records[i * width + field] >>> shift) & mask]++;
        for (let j = 0; j < width; j++) spare[target * width + j] = records[i * width + j];
        for (let j = 0; j < payloadWidth; j++) sparePayload[target * payloadWidth + j] = payload[i * payloadWidth + j];
      }
      [records, spare] = [spare, records];
      [payload, sparePayload] = [sparePayload, payload];
    }
  }
  return { records, payload };
}

function newGrid(
  dims: number,
  cellStart: Int32Array,
  rowCell: Int32Array,
  slotRow: Int32Array,
  slotCoords: Float64Array,
  rows: NeighbourRows,
): CellGrid {
  const cellCount = cellStart.length - 1;
  return {
    dims,
    cellCount,
    cellStart,
    slotRow,
    slotCoords,
    cellBox: new Float64Array(cellCount * 2 * dims),
    rowCell,
    stencilSize: stencilSize(rows),
    denseIndex: new Int32Array(0),
    cellPosition: new Int32Array(0),
    stencilDeltas: new Int32Array(0),
    rows,
    cellKeys: new Int32Array(0),
    cellGridRow: new Int32Array(0),
    gridRowStart: new Int32Array(0),
  };
}

function computeCellBoxes(grid: CellGrid): void {
  const { dims, cellCount, cellStart, slotCoords, cellBox } = grid;
  for (let cell = 0; cell < cellCount; cell++) {
    const end = cellStart[cell + 1];
    for (let k = 0; k < dims; k++) {
      let low = Infinity;
      let high = -Infinity;
      for (let slot = cellStart[cell]; slot < end; slot++) {
        const value = slotCoords[slot * dims + k];
        if (value < low) low = value;
        if (value > high) high = value;
      }
      cellBox[cell * 2 * dims + k] = low;
      cellBox[cell * 2 * dims + dims + k] = high;
    }
  }
}

/**
 * Finds the occupied cells around a cell, for one pass over the cells. A pass must visit cells in
 * increasing id order: on a sorted grid, each neighbour row keeps cursors that only move forward,
 * one over grid rows (advanced when the visited cell's grid row changes) and one over the cells of
 * the matching grid row.
 */
class NeighbourScan {
  /** The cells found by the last collect(). */
  readonly cells: Int32Array;
  private readonly gridRowCursors: Int32Array;
  private readonly cellCursors: Int32Array;
  /** Grid row matching each neighbour row for the current grid row, or -1. */
  private readonly matchedGridRows: Int32Array;
  private currentGridRow = -1;

  constructor(private readonly grid: CellGrid) {
    this.cells = new Int32Array(grid.stencilSize);
    this.gridRowCursors = new Int32Array(grid.rows.reach.length);
    this.cellCursors = new Int32Array(grid.rows.reach.length);
    this.matchedGridRows = new Int32Array(grid.rows.reach.length);
  }

  /** Fills `cells` with the occupied cells that may hold a neighbour of a point in `cell`; returns how many. */
  collect(cell: number): number {
    const grid = this.grid;
    const out = this.cells;
    let found = 0;
    if (grid.denseIndex.length > 0) {
      const { denseIndex, stencilDeltas } = grid;
      const position = grid.cellPosition[cell];
      for (let t = 0; t < stencilDeltas.length; t++) {
        const other = denseIndex[position + stencilDeltas[t]];
        if (other >= 0) out[found++] = other;
      }
      return found;
    }
    const { dims, cellKeys, gridRowStart, rows } = grid;
    const { cellCursors, matchedGridRows } = this;
    const gridRow = grid.cellGridRow[cell];
    if (gridRow !== this.currentGridRow) this.matchGridRows(gridRow);
    const last = cellKeys[cell * dims + dims - 1];
    for (let r = 0; r < matchedGridRows.length; r++) {
      const matched = matchedGridRows[r];
      if (matched < 0) continue;
      const end = gridRowStart[matched + 1];
      const reach = rows.reach[r];
      let other = cellCursors[r];
      while (other < end && cellKeys[other * dims + dims - 1] < last - reach) other++;
      cellCursors[r] = other;
      for (; other < end && cellKeys[other * dims + dims - 1] <= last + reach; other++) {
        if (other !== cell) out[found++] = other;
      }
    }
    return found;
  }

  /** Finds, for each neighbour row, the grid row at that offset from `gridRow`. */
  private matchGridRows(gridRow: number): void {
    const { dims, cellKeys, gridRowStart, rows } = this.grid;
    const gridRowCount = gridRowStart.length - 1;
    const cell = gridRowStart[gridRow];
    this.currentGridRow = gridRow;
    for (let r = 0; r < this.gridRowCursors.length; r++) {
      let candidate = this.gridRowCursors[r];
      while (
        candidate < gridRowCount &&
        comparePrefixes(cellKeys, dims, gridRowStart[candidate], cell, rows.offsets, r) < 0
      ) {
        candidate++;
      }
      this.gridRowCursors[r] = candidate;
      const matches =
        candidate < gridRowCount &&
        comparePrefixes(cellKeys, dims, gridRowStart[candidate], cell, rows.offsets, r) === 0;
      this.matchedGridRows[r] = matches ? candidate : -1;
      this.cellCursors[r] = matches ? gridRowStart[candidate] : 0;
    }
  }
}

/** Neighbour-row offsets of zero, to compare two cells' own prefixes. */
const ZERO_OFFSETS = new Int32Array(MAX_FEATURES);

/**
 * Sign of (coordinates of `other` on axes 0..d-2) minus (those of `cell` plus neighbour row r's
 * offsets), compared lexicographically.
 */
function comparePrefixes(
  keys: Int32Array,
  dims: number,
  other: number,
  cell: number,
  rowOffsets: Int32Array,
  r: number,
): number {
  const prefix = dims - 1;
  for (let k = 0; k < prefix; k++) {
    const difference = keys[other * dims + k] - keys[cell * dims + k] - rowOffsets[r * prefix + k];
    if (difference !== 0) return difference;
  }
  return 0;
}

// Lower bounds below are computed with the same subtractions and summation order as
// squaredDistance(), so (float rounding being monotonic) they never exceed a real distance.

function boxGapSquared(grid: CellGrid, a: number, b: number): number {
  const { dims, cellBox } = grid;
  const atA = a * 2 * dims;
  const atB = b * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const gap = Math.max(
      cellBox[atB + k] - cellBox[atA + dims + k],
      cellBox[atA + k] - cellBox[atB + dims + k],
      0,
    );
    sum += gap * gap;
  }
  return sum;
}

function pointBoxGapSquared(grid: CellGrid, slot: number, cell: number): number {
  const { dims, slotCoords, cellBox } = grid;
  const at = cell * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const value = slotCoords[slot * dims + k];
    const gap = Math.max(cellBox[at + k] - value, value - cellBox[at + dims + k], 0);
    sum += gap * gap;
  }
  return sum;
}

function squaredDistance(coords: Float64Array, dims: number, a: number, b: number): number {
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const delta = coords[a * dims + k] - coords[b * dims + k];
    sum += delta * delta;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Phases

/** Core flag per slot: whole cells with >= minSamples points, else neighbours counted up to minSamples. */
function findCorePoints(grid: CellGrid, epsSquared: number, minSamples: number): Uint8Array {
  const { dims, cellCount, cellStart, slotCoords } = grid;
  const slotIsCore = new Uint8Array(slotCoords.length / dims);
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const end = cellStart[cell + 1];
    if (end - start >= minSamples) {
      slotIsCore.fill(1, start, end);
      continue;
    }
    const neighbourCount = scan.collect(cell);
    for (let slot = start; slot < end; slot++) {
      let count = end - start;
      for (let t = 0; t < neighbourCount && count < minSamples; t++) {
        const other = neighbours[t];
        if (pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        const otherEnd = cellStart[other + 1];
        for (let candidate = cellStart[other]; candidate < otherEnd; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared && ++count >= minSamples) break;
        }
      }
      if (count >= minSamples) slotIsCore[slot] = 1;
    }
  }
  return slotIsCore;
}

/** Reorders each cell's slots so core points come first; returns where each cell's cores end. */
function moveCoresFirst(grid: CellGrid, slotIsCore: Uint8Array): Int32Array {
  const { dims, cellCount, cellStart, slotRow, slotCoords } = grid;
  const coreEnd = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) {
    let front = cellStart[cell];
    let back = cellStart[cell + 1] - 1;
    while (front <= back) {
      if (slotIsCore[front] === 1) {
        front++;
      } else if (slotIsCore[back] === 0) {
        back--;
      } else {
        slotIsCore[front] = 1;
        slotIsCore[back] = 0;
        const row = slotRow[front];
        slotRow[front] = slotRow[back];
        slotRow[back] = row;
        for (let k = 0; k < dims; k++) {
          const value = slotCoords[front * dims + k];
          slotCoords[front * dims + k] = slotCoords[back * dims + k];
          slotCoords[back * dims + k] = value;
        }
        front++;
        back--;
      }
    }
    coreEnd[cell] = front;
  }
  return coreEnd;
}

/**
 * Union-find over cells: two cells holding core points join when some pair of those is within eps.
 * Also flags the cells next to (or holding) core points: only their other points can be borders.
 */
function linkCoreCells(grid: CellGrid, coreEnd: Int32Array, epsSquared: number) {
  const { dims, cellCount, cellStart, slotCoords } = grid;
  const parent = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) parent[cell] = cell;
  const nearCore = new Uint8Array(cellCount);
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const cores = coreEnd[cell];
    if (cores === start) continue;
    nearCore[cell] = 1;
    const neighbourCount = scan.collect(cell);
    for (let t = 0; t < neighbourCount; t++) {
      const other = neighbours[t];
      nearCore[other] = 1;
      // Each pair once, from its lower id; skip cells without cores and pairs already joined.
      if (other < cell || coreEnd[other] === cellStart[other]) continue;
      const root = findRoot(parent, cell);
      const otherRoot = findRoot(parent, other);
      if (root === otherRoot || boxGapSquared(grid, cell, other) > epsSquared) continue;
      const otherStart = cellStart[other];
      const otherCores = coreEnd[other];
      let touching = false;
      for (let slot = start; slot < cores && !touching; slot++) {
        if (pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        for (let candidate = otherStart; candidate < otherCores; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared) {
            touching = true;
            break;
          }
        }
      }
      if (touching) parent[Math.max(root, otherRoot)] = Math.min(root, otherRoot);
    }
  }
  return { parent, nearCore };
}

function findRoot(parent: Int32Array, node: number): number {
  while (parent[node] !== node) {
    parent[node] = parent[parent[node]];
    node = parent[node];
  }
  return node;
}

/**
 * Labels core rows, numbering components in order of their lowest core row, and returns the
 * cluster of each cell (-1 for cells without core points).
 */
function numberClusters(grid: CellGrid, isCore: Uint8Array, parent: Int32Array, coreEnd: Int32Array) {
  const { cellCount, cellStart, rowCell } = grid;
  const labels = new Int32Array(isCore.length).fill(-1);
  const rootCluster = new Int32Array(cellCount).fill(-1);
  let clusterCount = 0;
  for (let row = 0; row < isCore.length; row++) {
    if (isCore[row] === 0) continue;
    const root = findRoot(parent, rowCell[row]);
    if (rootCluster[root] < 0) rootCluster[root] = clusterCount++;
    labels[row] = rootCluster[root];
  }
  const cellCluster = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) {
    cellCluster[cell] = coreEnd[cell] > cellStart[cell] ? rootCluster[findRoot(parent, cell)] : -1;
  }
  return { labels, clusterCount, cellCluster };
}

/** Gives each non-core point the lowest cluster among the core points within eps (else leaves -1). */
function labelBorderPoints(
  grid: CellGrid,
  coreEnd: Int32Array,
  nearCore: Uint8Array,
  cellCluster: Int32Array,
  epsSquared: number,
  labels: Int32Array,
): void {
  const { dims, cellCount, cellStart, slotRow, slotCoords } = grid;
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const end = cellStart[cell + 1];
    if (coreEnd[cell] === end || nearCore[cell] === 0) continue;
    const neighbourCount = scan.collect(cell);
    // Core points sharing the cell are within eps of every point in it.
    const ownCluster = cellCluster[cell] < 0 ? NO_CLUSTER : cellCluster[cell];
    for (let slot = coreEnd[cell]; slot < end; slot++) {
      let best = ownCluster;
      for (let t = 0; t < neighbourCount; t++) {
        const other = neighbours[t];
        const cluster = cellCluster[other];
        if (cluster < 0 || cluster >= best || pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        const otherCores = coreEnd[other];
        for (let candidate = cellStart[other]; candidate < otherCores; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared) {
            best = cluster;
            break;
          }
        }
      }
      if (best !== NO_CLUSTER) labels[slotRow[slot]] = best;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bounding-box hierarchy for nearestCoreDistance

/** Points per leaf of the box tree. */
const LEAF_SIZE = 16;
/** Bits of the Z-order code. */
const CODE_BITS = 30;

/**
 * Core points in Z-order, grouped into leaves of LEAF_SIZE consecutive points, under a complete
 * binary tree of bounding boxes: node 1 is the root, node i has children 2i and 2i+1, and nodes
 * leafBase .. 2*leafBase-1 are the leaves (those past the last point have empty boxes).
 */
interface BoxTree {
  dims: number;
  count: number;
  /** Point coordinates in Z-order, interleaved. */
  coords: Float64Array;
  leafBase: number;
  /** Box of each node: lows then highs, 2 * dims values per node. */
  boxes: Float64Array;
  /** Traversal stack: node and squared lower bound per entry. */
  stackNodes: Int32Array;
  stackBounds: Float64Array;
}

function buildBoxTree(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  lows: Float64Array,
  highs: Float64Array,
): BoxTree {
  const dims = columns.length;
  const coords = zOrderedCoreCoords(columns, isCore, lows, highs);
  const count = coords.length / dims;
  let leafBase = 1;
  while (leafBase * LEAF_SIZE < count) leafBase *= 2;
  const width = 2 * dims;
  const boxes = new Float64Array(2 * leafBase * width);
  for (let node = leafBase; node < 2 * leafBase; node++) {
    const first = (node - leafBase) * LEAF_SIZE;
    const end = Math.min(count, first + LEAF_SIZE);
    for (let k = 0; k < dims; k++) {
      let low = Infinity;
      let high = -Infinity;
      for (let point = first; point < end; point++) {
        const value = coords[point * dims + k];
        if (value < low) low = value;
        if (value > high) high = value;
      }
      boxes[node * width + k] = low;
      boxes[node * width + dims + k] = high;
    }
  }
  for (let node = leafBase - 1; node >= 1; node--) {
    for (let k = 0; k < dims; k++) {
      boxes[node * width + k] = Math.min(boxes[2 * node * width + k], boxes[(2 * node + 1) * width + k]);
      boxes[node * width + dims + k] = Math.max(
        boxes[2 * node * width + dims + k],
        boxes[(2 * node + 1) * width + dims + k],
      );
    }
  }
  const depth = Math.log2(leafBase);
  return {
    dims,
    count,
    coords,
    leafBase,
    boxes,
    stackNodes: new Int32Array(depth + 2),
    stackBounds: new Float64Array(depth + 2),
  };
}

/**
 * Coordinates (interleaved) of the core points, sorted by their Z-order code on a grid of up to
 * 2^15 cells per axis over the data's box.
 */
function zOrderedCoreCoords(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  lows: Float64Array,
  highs: Float64Array,
): Float64Array {
  const dims = columns.length;
  const maxCell = 2 ** Math.min(15, Math.floor(CODE_BITS / dims)) - 1;
  // A zero or overflowing range puts the whole axis in cell 0.
  const scales = Array.from(lows, (low, k) => {
    const scale = maxCell / (highs[k] - low);
    return Number.isFinite(scale) ? scale : 0;
  });

  let count = 0;
  for (let row = 0; row < isCore.length; row++) count += isCore[row] === 0 ? 0 : 1;
  const codes = new Int32Array(count);
  const coords = new Float64Array(count * dims);
  for (let row = 0, point = 0; row < isCore.length; row++) {
    if (isCore[row] === 0) continue;
    let code = 0;
    for (let k = 0; k < dims; k++) {
      const value = columns[k][row];
      coords[point * dims + k] = value;
      code |= spreadBits(Math.min(maxCell, Math.floor((value - lows[k]) * scales[k])) || 0, dims) << k;
    }
    codes[point++] = code;
  }
  return radixSortRecords(codes, 1, coords, dims, [{ field: 0, bits: CODE_BITS }]).payload;
}

/** SPREAD_TABLES[dims - 1][byte]: the byte's bit b moved to bit b * dims. */
const SPREAD_TABLES = Array.from({ length: MAX_FEATURES }, (_, d) =>
  Int32Array.from({ length: 256 }, (_, byte) => {
    let spread = 0;
    for (let bit = 0; bit < 8; bit++) spread |= ((byte >>> bit) & 1) << (bit * (d + 1));
    return spread;
  }),
);

/** Spreads the bits of `value` (< 2^16, and < 2^(30 / dims)) so that bit b lands at b * dims. */
function spreadBits(value: number, dims: number): number {
  const table = SPREAD_TABLES[dims - 1];
  return table[value & 255] | (table[value >>> 8] << (8 * dims));
}

function nearestSquaredDistance(tree: BoxTree, query: Float64Array): number {
  const { dims, count, coords, leafBase, stackNodes, stackBounds } = tree;
  let best = Infinity;
  if (count === 0) return best;
  stackNodes[0] = 1;
  stackBounds[0] = 0;
  let depth = 1;
  while (depth > 0) {
    depth--;
    if (stackBounds[depth] >= best) continue;
    const node = stackNodes[depth];
    if (node >= leafBase) {
      const end = Math.min(count, (node - leafBase + 1) * LEAF_SIZE);
      for (let point = (node - leafBase) * LEAF_SIZE; point < end; point++) {
        let sum = 0;
        for (let k = 0; k < dims; k++) {
          const delta = coords[point * dims + k] - query[k];
          sum += delta * delta;
        }
        if (sum < best) best = sum;
      }
      continue;
    }
    // Nearer child on top of the stack, so it is searched first.
    const left = 2 * node;
    const leftBound = boxGapToQuery(tree, left, query);
    const rightBound = boxGapToQuery(tree, left + 1, query);
    const nearFirst = leftBound <= rightBound;
    stackNodes[depth] = nearFirst ? left + 1 : left;
    stackBounds[depth++] = nearFirst ? rightBound : leftBound;
    stackNodes[depth] = nearFirst ? left : left + 1;
    stackBounds[depth++] = nearFirst ? leftBound : rightBound;
  }
  return best;
}

/** Squared lower bound on the distance from the query to the node's box (Infinity for an empty box). */
function boxGapToQuery(tree: BoxTree, node: number, query: Float64Array): number {
  const { dims, boxes } = tree;
  const at = node * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const value = query[k];
    const gap = Math.max(boxes[at + k] - value, value - boxes[at + dims + k], 0);
    sum += gap * gap;
  }
  return sum;
}
