/** The neighbour lookup that every clustering pass runs per cell, over either kind of grid. */
import { comparePrefixes, type CellGrid } from './grid.js';

/**
 * Finds the occupied cells around a cell, for one pass over the cells. A pass must visit cells in
 * increasing id order: on a sorted grid, each neighbour row keeps cursors that only move forward,
 * one over grid rows (advanced when the visited cell's grid row changes) and one over the cells of
 * the matching grid row.
 */
export class NeighbourScan {
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
