/**
 * A scatter of many points (a day's rides: 100k and more) drawn on a canvas in one path, flagged
 * points on top in their detector's colour, with a grid index for finding the point under the pointer.
 */

export interface ScatterInput {
  x: Float64Array;
  y: Float64Array;
  /** Points drawn on top, each in its colour. */
  highlighted: { index: number; colour: string }[];
  selected?: number;
  log: boolean;
  xLabel: string;
  yLabel: string;
}

interface Scale {
  toPixel(value: number): number;
  ticks: number[];
}

const MARGIN = { left: 56, right: 12, top: 12, bottom: 40 };
/** Grid cell of the hit index, in CSS pixels: a click finds points within about one cell. */
const CELL = 8;

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((factor) => factor * power >= raw) ?? 10) * power;
}

function scaleOf(values: Float64Array, log: boolean, from: number, to: number): Scale {
  const transform = log ? (value: number) => Math.log10(Math.max(value, 1e-3)) : (value: number) => value;
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    const t = transform(value);
    if (t < min) min = t;
    if (t > max) max = t;
  }
  if (!Number.isFinite(min)) [min, max] = [0, 1];
  if (min === max) [min, max] = [min - 1, max + 1];
  const pad = (max - min) * 0.02;
  min -= pad;
  max += pad;
  const step = niceStep(max - min, 5);
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= max; tick += step) ticks.push(log ? 10 ** tick : tick);
  const perUnit = (to - from) / (max - min);
  return { toPixel: (value) => from + (transform(value) - min) * perUnit, ticks };
}

function tickText(value: number): string {
  return Math.abs(value) >= 1000 ? value.toExponential(0) : String(Number(value.toPrecision(3)));
}

export class ScatterPlot {
  private grid = new Map<number, number[]>();
  private pixels = { x: new Float32Array(), y: new Float32Array() };
  private columns = 0;
  private highlightedSet = new Set<number>();

  constructor(private readonly canvas: HTMLCanvasElement) {}

  /** Draws `input` at `width`×`height` CSS pixels. */
  draw(input: ScatterInput, width: number, height: number): void {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const context = this.canvas.getContext('2d');
    if (context === null) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const style = getComputedStyle(this.canvas);
    const ink = style.getPropertyValue('--fg').trim() || '#222';
    const faint = style.getPropertyValue('--point').trim() || 'rgba(90,110,140,0.35)';
    const rule = style.getPropertyValue('--rule').trim() || '#ccc';
    context.clearRect(0, 0, width, height);

    const xScale = scaleOf(input.x, input.log, MARGIN.left, width - MARGIN.right);
    const yScale = scaleOf(input.y, input.log, height - MARGIN.bottom, MARGIN.top);
    this.drawAxes(context, xScale, yScale, input, width, height, ink, rule);

    const count = input.x.length;
    const xs = new Float32Array(count);
    const ys = new Float32Array(count);
    this.grid = new Map();
    this.columns = Math.ceil(width / CELL) + 1;
    context.fillStyle = faint;
    context.beginPath();
    for (let i = 0; i < count; i++) {
      const px = xScale.toPixel(input.x[i]);
      const py = yScale.toPixel(input.y[i]);
      xs[i] = px;
      ys[i] = py;
      if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
      context.rect(px - 1, py - 1, 2, 2);
      const cell = Math.floor(py / CELL) * this.columns + Math.floor(px / CELL);
      const bucket = this.grid.get(cell);
      if (bucket === undefined) this.grid.set(cell, [i]);
      else bucket.push(i);
    }
    context.fill();
    this.pixels = { x: xs, y: ys };
    this.highlightedSet = new Set(input.highlighted.map((point) => point.index));

    context.lineWidth = 1;
    context.strokeStyle = ink;
    for (const { index, colour } of input.highlighted) {
      context.fillStyle = colour;
      context.beginPath();
      context.arc(xs[index], ys[index], 3.5, 0, 2 * Math.PI);
      context.fill();
    }
    if (input.selected !== undefined && Number.isFinite(xs[input.selected])) {
      context.lineWidth = 2;
      context.beginPath();
      context.arc(xs[input.selected], ys[input.selected], 8, 0, 2 * Math.PI);
      context.stroke();
    }
  }

  private drawAxes(context: CanvasRenderingContext2D, xScale: Scale, yScale: Scale, input: ScatterInput, width: number, height: number, ink: string, rule: string): void {
    context.font = '12px system-ui, sans-serif';
    context.fillStyle = ink;
    context.strokeStyle = rule;
    context.lineWidth = 1;
    context.textAlign = 'center';
    context.textBaseline = 'top';
    for (const tick of xScale.ticks) {
      const px = Math.round(xScale.toPixel(tick)) + 0.5;
      context.beginPath();
      context.moveTo(px, MARGIN.top);
      context.lineTo(px, height - MARGIN.bottom);
      context.stroke();
      context.fillText(tickText(tick), px, height - MARGIN.bottom + 4);
    }
    context.fillText(input.xLabel, (MARGIN.left + width - MARGIN.right) / 2, height - 16);
    context.textAlign = 'right';
    context.textBaseline = 'middle';
    for (const tick of yScale.ticks) {
      const py = Math.round(yScale.toPixel(tick)) + 0.5;
      context.beginPath();
      context.moveTo(MARGIN.left, py);
      context.lineTo(width - MARGIN.right, py);
      context.stroke();
      context.fillText(tickText(tick), MARGIN.left - 6, py);
    }
    context.save();
    context.translate(12, (MARGIN.top + height - MARGIN.bottom) / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = 'center';
    context.fillText(input.yLabel, 0, 0);
    context.restore();
  }

  /** The point nearest (`px`, `py`) within about a cell, a highlighted one first; undefined when none. */
  nearest(px: number, py: number): number | undefined {
    const column = Math.floor(px / CELL);
    const row = Math.floor(py / CELL);
    let best: number | undefined;
    let bestScore = Infinity;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        for (const index of this.grid.get((row + dy) * this.columns + column + dx) ?? []) {
          const distance = Math.hypot(this.pixels.x[index] - px, this.pixels.y[index] - py);
          // A highlighted point wins over plain ones nearby: those are what people click for.
          const score = distance - (this.highlightedSet.has(index) ? CELL : 0);
          if (distance <= CELL * 1.5 && score < bestScore) {
            best = index;
            bestScore = score;
          }
        }
      }
    }
    return best;
  }

  /** Where point `index` was drawn, in CSS pixels. */
  position(index: number): { x: number; y: number } {
    return { x: this.pixels.x[index], y: this.pixels.y[index] };
  }
}
