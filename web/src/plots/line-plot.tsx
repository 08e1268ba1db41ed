/** uPlot in a Preact component: made once per set of series, data replaced in place, width following its box. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { useWidth } from '../components';

/** Axis values as people read big counts: 1.2M, 950K. */
const COMPACT = new Intl.NumberFormat('en', { notation: 'compact', maximumSignificantDigits: 3 });
/** Tick steps of a daily x axis, in seconds: 1 day, 2 days, a week, 2 weeks, about a month, a quarter. */
const DAY_STEPS = [1, 2, 7, 14, 30, 91].map((days) => days * 86_400);

export interface LinePlotProps {
  /** x values first, then one array per series (null: no point). */
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  bands?: uPlot.Band[];
  /** x is a time in seconds (uPlot's unit) or a plain number. */
  time: boolean;
  /** x is whole days: ticks fall on days, never between them. */
  daily?: boolean;
  height?: number;
  label: string;
}

export function LinePlot({ data, series, bands, time, daily = false, height = 320, label }: LinePlotProps) {
  const { ref, element: box, width } = useWidth<HTMLDivElement>();
  const plot = useRef<uPlot | null>(null);
  const shape = JSON.stringify(series.map((entry) => entry.label)) + time + daily;

  useEffect(() => {
    if (box === null || width === 0) return;
    const style = getComputedStyle(box);
    const axisColour = style.getPropertyValue('--fg').trim();
    const grid = { stroke: style.getPropertyValue('--rule').trim() };
    plot.current = new uPlot(
      {
        width,
        height,
        series,
        bands,
        scales: { x: { time } },
        axes: [
          { stroke: axisColour, grid, incrs: daily ? DAY_STEPS : undefined },
          { stroke: axisColour, grid, size: 64, values: (_plot, splits) => splits.map((split) => COMPACT.format(split)) },
        ],
        legend: { live: true },
      },
      data,
      box,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, box, width > 0]);

  useEffect(() => plot.current?.setData(data), [data]);
  useEffect(() => {
    if (width > 0) plot.current?.setSize({ width, height });
  }, [width, height]);

  return <div class="line-plot" ref={ref} role="img" aria-label={label} />;
}
