/**
 * The uniform grid DBSCAN runs on: points bucketed into cells of side a hair under eps/sqrt(d), so
 * any two points sharing a cell are neighbours.
 *
 * Cells live in a dense array when the grid is small enough (the common case); otherwise the points
 * are radix-sorted by cell coordinates and neighbour cells are found by a forward-only sweep over
 * the sorted cells (see NeighbourScan), which reads memory in order where a hash lookup per
 * neighbour cell would not.
 */
import { InputError } from '../../errors.js';
import { radixSortRecords } from './radix-sort.js';
import { axisRanges, MAX_FEATURES } from './validate.js';

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
export interface CellGrid {
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
 * Buckets the rows into grid cells for neighbourhoods of radius eps, with each cell's bounding box.
 *
 * @throws InputError on a non-finite value, or values spanning too wide a range for eps.
 */
export function buildGrid(columns: readonly Float64Array[], rowCount: number, eps: number): CellGrid {
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

/** Neighbour-row offsets of zero, to compare two cells' own prefixes. */
const ZERO_OFFSETS = new Int32Array(MAX_FEATURES);

/**
 * Sign of (coordinates of `other` on axes 0..d-2) minus (those of `cell` plus neighbour row r's
 * offsets), compared lexicographically.
 */
export function comparePrefixes(
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
