/**
 * DBSCAN on a uniform grid (Gunawan's 2-D algorithm, generalised to 1..4 features), with the exact
 * semantics of scikit-learn's `DBSCAN(metric='euclidean')`.
 *
 * The grid's cell side is a hair under eps/sqrt(d), so any two points sharing a cell are neighbours:
 * a cell holding >= minSamples points is core as a whole, and all core points of a cell belong to the
 * same cluster. Clusters are then connected components of a union-find over cells, and only points
 * in sparse cells ever need their neighbours counted.
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
/** Cells shrink by this relative amount so that rounding cannot put two points more than eps apart in one cell... */
const BASE_SHRINK = 1e-9;
/** ...plus this much per cell of span, covering the rounding of `(value - origin) * invSide` far from the origin. */
const SHRINK_PER_SPAN_CELL = 4e-15;
/** Larger than any cluster id. */
const NO_CLUSTER = 0x7fffffff;

/**
 * How one axis maps values to integer cell coordinates. Values are split into segments separated by
 * gaps wider than 2*eps; each segment has its own origin and the next segment starts `reach + 1`
 * cells after the last cell of the previous one. A single segment is the plain grid; several
 * segments squeeze out empty space, so far outliers neither blow up the grid nor lose precision.
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
  /** Bounding box of each cell's points, interleaved like slotCoords. */
  cellLow: Float64Array;
  cellHigh: Float64Array;
  /** Cell of each input row. */
  rowCell: Int32Array;
  /** Dense grid only: grid position -> cell id or -1 (empty when the grid is hashed). */
  denseIndex: Int32Array;
  /** Dense grid only: grid position of each cell. */
  cellPosition: Int32Array;
  /** Dense grid only: position deltas of the neighbouring cells. */
  stencilDeltas: Int32Array;
  /** Hashed grid only (null when dense). */
  table: CellTable | null;
  /** Hashed grid only: coordinate offsets of the neighbouring cells, stencilSize * dims. */
  stencilOffsets: Int32Array;
  stencilSize: number;
  /** Hashed grid only: scratch coordinates for lookups. */
  lookup: Int32Array;
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
  const parent = linkCoreCells(grid, coreEnd, epsSquared);

  const isCore = new Uint8Array(rowCount);
  for (let slot = 0; slot < rowCount; slot++) isCore[grid.slotRow[slot]] = slotIsCore[slot];
  const { labels, clusterCount, cellCluster } = numberClusters(grid, isCore, parent, coreEnd);
  labelBorderPoints(grid, coreEnd, cellCluster, epsSquared, labels);
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
 * Offsets (flattened, `dims` per offset, the origin excluded, nearest first) of the cells that can
 * hold a neighbour: a cell at offset o is at least side * sqrt(sum max(|o_k| - 1, 0)^2) away, so it
 * matters while that sum is <= dims. Corners at exactly that bound are kept for the `<=` edge case.
 */
function stencilOffsets(dims: number, reach: number): Int32Array {
  const width = 2 * reach + 1;
  const kept: { offset: number[]; gap: number }[] = [];
  for (let code = 0; code < width ** dims; code++) {
    const offset: number[] = [];
    let gap = 0;
    for (let k = 0, rest = code; k < dims; k++, rest = Math.floor(rest / width)) {
      const o = (rest % width) - reach;
      offset.push(o);
      gap += Math.max(Math.abs(o) - 1, 0) ** 2;
    }
    if (gap <= dims && offset.some((o) => o !== 0)) kept.push({ offset, gap });
  }
  kept.sort((a, b) => a.gap - b.gap);
  return Int32Array.from(kept.flatMap((entry) => entry.offset));
}

function singleSegment(low: number, high: number): AxisLayout {
  return { origins: Float64Array.of(low), spans: Float64Array.of(high - low), bases: new Float64Array(1), cells: 0 };
}

/** Splits one axis at gaps wider than 2 * eps (no pair across such a gap can be within eps). */
function gapSegments(column: Float64Array, eps: number): AxisLayout {
  const sorted = column.slice().sort();
  const gap = 2 * eps;
  const origins: number[] = [sorted[0]];
  const spans: number[] = [];
  let previous = sorted[0];
  for (let i = 1; i < sorted.length; i++) {
    const value = sorted[i];
    if (value - previous > gap) {
      spans.push(previous - origins[origins.length - 1]);
      origins.push(value);
    }
    previous = value;
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

/** Chooses the cell side for these segments and fills in each axis's bases and cell count. */
function placeSegments(axes: readonly AxisLayout[], eps: number, reach: number): number {
  const shrink = BASE_SHRINK + SHRINK_PER_SPAN_CELL * widestSpanInCells(axes, eps);
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
function paddedGridCells(axes: readonly AxisLayout[], reach: number): number {
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
  const dims = columns.length;
  const reach = reachFor(dims);
  const denseLimit = Math.min(MAX_DENSE_GRID_CELLS, Math.max(4 * rowCount, MIN_DENSE_GRID_CELLS));
  const { lows, highs } = axisRanges(columns, rowCount, 'dbscan');

  let axes = Array.from(lows, (low, k) => singleSegment(low, highs[k]));
  let invSide = 0;
  const plainGridFits = widestSpanInCells(axes, eps) <= denseLimit;
  if (plainGridFits) invSide = placeSegments(axes, eps, reach);
  if (!plainGridFits || paddedGridCells(axes, reach) > denseLimit) {
    axes = columns.map((column) => gapSegments(column, eps));
    if (!Number.isFinite(widestSpanInCells(axes, eps))) {
      throw new InputError(`dbscan: feature values span too wide a range to represent for eps ${eps}`);
    }
    invSide = placeSegments(axes, eps, reach);
  }

  const rowCell = new Int32Array(rowCount);
  const gridCells = paddedGridCells(axes, reach);
  const grid =
    gridCells <= denseLimit
      ? bucketDense(columns, rowCount, axes, invSide, reach, gridCells, rowCell)
      : bucketHashed(columns, rowCount, axes, invSide, reach, rowCell);
  sortPointsByCell(grid, columns, rowCount);
  return grid;
}

/** Assigns rows to cells through a dense grid; cell ids follow grid order for locality. */
function bucketDense(
  columns: readonly Float64Array[],
  rowCount: number,
  axes: readonly AxisLayout[],
  invSide: number,
  reach: number,
  gridCells: number,
  rowCell: Int32Array,
): CellGrid {
  const dims = columns.length;
  const strides: number[] = [];
  for (let k = 0, stride = 1; k < dims; stride *= axes[k].cells + 2 * reach, k++) strides.push(stride);

  // rowCell temporarily holds grid positions, denseIndex the point count per position.
  const denseIndex = new Int32Array(gridCells);
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

  const offsets = stencilOffsets(dims, reach);
  const stencilSize = offsets.length / dims;
  const stencilDeltas = new Int32Array(stencilSize);
  for (let t = 0; t < stencilSize; t++) {
    for (let k = 0; k < dims; k++) stencilDeltas[t] += offsets[t * dims + k] * strides[k];
  }
  return newGrid(dims, cellCount, cellStart, rowCell, {
    denseIndex,
    cellPosition,
    stencilDeltas,
    table: null,
    stencilOffsets: new Int32Array(0),
    stencilSize,
  });
}

/** Assigns rows to cells through a hash of cell coordinates, for grids too sparse for an array. */
function bucketHashed(
  columns: readonly Float64Array[],
  rowCount: number,
  axes: readonly AxisLayout[],
  invSide: number,
  reach: number,
  rowCell: Int32Array,
): CellGrid {
  const dims = columns.length;
  const table = new CellTable(dims);
  const coords = new Int32Array(dims);
  let cellSizes = new Int32Array(1024);
  for (let row = 0; row < rowCount; row++) {
    for (let k = 0; k < dims; k++) coords[k] = cellCoordinate(axes[k], invSide, columns[k][row]);
    const cell = table.findOrAdd(coords);
    if (cell === cellSizes.length) {
      const grown = new Int32Array(cellSizes.length * 2);
      grown.set(cellSizes);
      cellSizes = grown;
    }
    cellSizes[cell]++;
    rowCell[row] = cell;
  }
  const cellCount = table.count;
  const cellStart = new Int32Array(cellCount + 1);
  for (let cell = 0; cell < cellCount; cell++) cellStart[cell + 1] = cellStart[cell] + cellSizes[cell];

  const stencil = stencilOffsets(dims, reach);
  return newGrid(dims, cellCount, cellStart, rowCell, {
    denseIndex: new Int32Array(0),
    cellPosition: new Int32Array(0),
    stencilDeltas: new Int32Array(0),
    table,
    stencilOffsets: stencil,
    stencilSize: stencil.length / dims,
  });
}

function newGrid(
  dims: number,
  cellCount: number,
  cellStart: Int32Array,
  rowCell: Int32Array,
  neighbourhood: Pick<
    CellGrid,
    'denseIndex' | 'cellPosition' | 'stencilDeltas' | 'table' | 'stencilOffsets' | 'stencilSize'
  >,
): CellGrid {
  const rowCount = rowCell.length;
  return {
    dims,
    cellCount,
    cellStart,
    slotRow: new Int32Array(rowCount),
    slotCoords: new Float64Array(rowCount * dims),
    cellLow: new Float64Array(cellCount * dims),
    cellHigh: new Float64Array(cellCount * dims),
    rowCell,
    ...neighbourhood,
    lookup: new Int32Array(dims),
  };
}

/** Counting sort of the rows by cell into slots, copying coordinates alongside; then cell boxes. */
function sortPointsByCell(grid: CellGrid, columns: readonly Float64Array[], rowCount: number): void {
  const { dims, cellCount, cellStart, slotRow, slotCoords, rowCell, cellLow, cellHigh } = grid;
  const nextSlot = cellStart.slice(0, cellCount);
  for (let row = 0; row < rowCount; row++) {
    const slot = nextSlot[rowCell[row]]++;
    slotRow[slot] = row;
    for (let k = 0; k < dims; k++) slotCoords[slot * dims + k] = columns[k][row];
  }
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
      cellLow[cell * dims + k] = low;
      cellHigh[cell * dims + k] = high;
    }
  }
}

/**
 * Open-addressing hash from integer cell coordinates to cell ids 0..count-1 (ids in order of
 * insertion). Keys are the cells' coordinates, `dims` per cell.
 */
class CellTable {
  count = 0;
  keys: Int32Array;
  private slots: Int32Array;
  private mask: number;

  constructor(private readonly dims: number) {
    this.slots = new Int32Array(2048);
    this.mask = this.slots.length - 1;
    this.keys = new Int32Array(1024 * dims);
  }

  /** Id of the cell at coords[at .. at + dims), or -1. */
  find(coords: Int32Array, at: number): number {
    const { dims, keys, slots, mask } = this;
    for (let probe = hashCoords(coords, at, dims) & mask; ; probe = (probe + 1) & mask) {
      const stored = slots[probe];
      if (stored === 0) return -1;
      const cell = stored - 1;
      let k = 0;
      while (k < dims && keys[cell * dims + k] === coords[at + k]) k++;
      if (k === dims) return cell;
    }
  }

  /** Id of the cell at coords[0 .. dims), added when new. */
  findOrAdd(coords: Int32Array): number {
    const found = this.find(coords, 0);
    if (found >= 0) return found;
    const cell = this.count++;
    if ((cell + 1) * this.dims > this.keys.length) {
      const grown = new Int32Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    this.keys.set(coords, cell * this.dims);
    if (this.count * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(cell);
    return cell;
  }

  private place(cell: number): void {
    let probe = hashCoords(this.keys, cell * this.dims, this.dims) & this.mask;
    while (this.slots[probe] !== 0) probe = (probe + 1) & this.mask;
    this.slots[probe] = cell + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let cell = 0; cell < this.count; cell++) this.place(cell);
  }
}

function hashCoords(coords: Int32Array, at: number, dims: number): number {
  let hash = 0x811c9dc5;
  for (let k = 0; k < dims; k++) hash = Math.imul(hash ^ coords[at + k], 0x9e3779b1);
  return (hash ^ (hash >>> 15)) >>> 0;
}

/** Writes the occupied neighbour cells of `cell` whose boxes come within eps of its box into `out`. */
function collectNeighbourCells(grid: CellGrid, cell: number, epsSquared: number, out: Int32Array): number {
  let found = 0;
  const table = grid.table;
  if (table === null) {
    const { denseIndex, stencilDeltas } = grid;
    const position = grid.cellPosition[cell];
    for (let t = 0; t < grid.stencilSize; t++) {
      const other = denseIndex[position + stencilDeltas[t]];
      if (other >= 0 && boxGapSquared(grid, cell, other) <= epsSquared) out[found++] = other;
    }
  } else {
    const { dims, stencilOffsets, lookup } = grid;
    const keys = table.keys;
    for (let t = 0; t < grid.stencilSize; t++) {
      for (let k = 0; k < dims; k++) lookup[k] = keys[cell * dims + k] + stencilOffsets[t * dims + k];
      const other = table.find(lookup, 0);
      if (other >= 0 && boxGapSquared(grid, cell, other) <= epsSquared) out[found++] = other;
    }
  }
  return found;
}

// Lower bounds below are computed with the same subtractions and summation order as
// squaredDistance(), so (float rounding being monotonic) they never exceed a real distance.

function boxGapSquared(grid: CellGrid, a: number, b: number): number {
  const { dims, cellLow, cellHigh } = grid;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const gap = Math.max(cellLow[b * dims + k] - cellHigh[a * dims + k], cellLow[a * dims + k] - cellHigh[b * dims + k], 0);
    sum += gap * gap;
  }
  return sum;
}

function pointBoxGapSquared(grid: CellGrid, slot: number, cell: number): number {
  const { dims, slotCoords, cellLow, cellHigh } = grid;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const value = slotCoords[slot * dims + k];
    const gap = Math.max(cellLow[cell * dims + k] - value, value - cellHigh[cell * dims + k], 0);
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
  const neighbours = new Int32Array(grid.stencilSize);
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const end = cellStart[cell + 1];
    if (end - start >= minSamples) {
      slotIsCore.fill(1, start, end);
      continue;
    }
    const neighbourCount = collectNeighbourCells(grid, cell, epsSquared, neighbours);
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

/** Union-find over cells: two cells holding core points join when some pair of those is within eps. */
function linkCoreCells(grid: CellGrid, coreEnd: Int32Array, epsSquared: number): Int32Array {
  const { dims, cellCount, cellStart, slotCoords } = grid;
  const parent = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) parent[cell] = cell;
  const neighbours = new Int32Array(grid.stencilSize);
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const cores = coreEnd[cell];
    if (cores === start) continue;
    const neighbourCount = collectNeighbourCells(grid, cell, epsSquared, neighbours);
    for (let t = 0; t < neighbourCount; t++) {
      const other = neighbours[t];
      // Each pair once, from its lower id; skip cells without cores and pairs already joined.
      if (other < cell || coreEnd[other] === cellStart[other]) continue;
      const root = findRoot(parent, cell);
      const otherRoot = findRoot(parent, other);
      if (root === otherRoot) continue;
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
  return parent;
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
  cellCluster: Int32Array,
  epsSquared: number,
  labels: Int32Array,
): void {
  const { dims, cellCount, cellStart, slotRow, slotCoords } = grid;
  const neighbours = new Int32Array(grid.stencilSize);
  for (let cell = 0; cell < cellCount; cell++) {
    const end = cellStart[cell + 1];
    if (coreEnd[cell] === end) continue;
    const neighbourCount = collectNeighbourCells(grid, cell, epsSquared, neighbours);
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
/** Bits of the Z-order code: 3 radix passes of 10 bits. */
const CODE_BITS = 30;
const RADIX_BITS = 10;

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
 * 2^15 cells per axis over the data's box. Coordinates travel with the codes through the radix
 * sort, which beats gathering them afterwards in random order.
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
  let codes = new Uint32Array(count);
  let coords = new Float64Array(count * dims);
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

  // LSD radix sort, one histogram pass for all digits.
  const passes = CODE_BITS / RADIX_BITS;
  const digitMask = (1 << RADIX_BITS) - 1;
  const starts = new Int32Array(passes << RADIX_BITS);
  for (let point = 0; point < count; point++) {
    const code = codes[point];
    for (let pass = 0; pass < passes; pass++) starts[(pass << RADIX_BITS) + ((code >>> (pass * RADIX_BITS)) & digitMask)]++;
  }
  let spareCodes = new Uint32Array(count);
  let spareCoords = new Float64Array(count * dims);
  for (let pass = 0; pass < passes; pass++) {
    const offset = pass << RADIX_BITS;
    for (let digit = 0, start = 0; digit <= digitMask; digit++) {
      const size = starts[offset + digit];
      starts[offset + digit] = start;
      start += size;
    }
    const shift = pass * RADIX_BITS;
    for (let point = 0; point < count; point++) {
      const code = codes[point];
      const target = starts[offset + ((code >>> shift) & digitMask)]++;
      spareCodes[target] = code;
      for (let k = 0; k < dims; k++) spareCoords[target * dims + k] = coords[point * dims + k];
    }
    [codes, spareCodes] = [spareCodes, codes];
    [coords, spareCoords] = [spareCoords, coords];
  }
  return coords;
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
