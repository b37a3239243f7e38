/**
 * One line chart of metrics against step, drawn with uPlot. New points arrive through props;
 * the chart keeps its canvas and only swaps its data, so a polling page does not flicker.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

import type { MetricsRecord } from '../api.ts';

export interface SeriesSpec {
  stage: string;
  key: string;
}

interface MetricChartProps {
  title: string;
  series: SeriesSpec[];
  records: MetricsRecord[];
  /** Bumped whenever `records` grew, since the array itself is appended in place. */
  version: number;
  /** Rates and accuracies: the y axis stays within [0, 1]. Default false. */
  unitRange?: boolean;
}

const stepIncrements = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000,
];

const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777'];

/** Steps on x, one y column per series, null where a series has no value at that step. */
export function alignSeries(records: MetricsRecord[], series: SeriesSpec[]): uPlot.AlignedData {
  const rows = new Map<number, (number | null)[]>();
  for (const record of records) {
    series.forEach((spec, column) => {
      if (record.stage !== spec.stage) return;
      const value = record[spec.key];
      if (typeof value !== 'number' || !Number.isFinite(value)) return;
      let row = rows.get(record.step);
      if (!row) {
        row = series.map(() => null);
        rows.set(record.step, row);
      }
      row[column] = value;
    });
  }
  const steps = [...rows.keys()].sort((a, b) => a - b);
  return [steps, ...series.map((_, column) => steps.map((step) => rows.get(step)![column]))];
}

export function MetricChart({ title, series, records, version, unitRange }: MetricChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = series.map((s) => `${s.stage}:${s.key}`).join('|');
  const data = alignSeries(records, series);
  const points = data[0].length;
  const stages = [...new Set(series.map((s) => s.stage))].join(', ');

  // Create the chart when the set of series changes.
  useEffect(() => {
    const element = container.current;
    if (!element || series.length === 0) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height: 190,
      legend: { show: series.length > 1, live: false },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: { time: false },
        ...(unitRange ? { y: { range: [0, 1] as uPlot.Range.MinMax } } : {}),
      },
      axes: [
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f7' },
          ticks: { stroke: '#e2e8f0' },
          // Steps are whole numbers: never tick at 1.5.
          incrs: stepIncrements,
        },
        { stroke: '#64748b', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#e2e8f0' }, size: 52 },
      ],
      series: [
        { label: 'step' },
        ...series.map((spec, i) => ({
          label: series.length > 1 ? `${spec.stage} ${spec.key}` : spec.key,
          stroke: palette[i % palette.length],
          width: 2,
          spanGaps: true,
          points: { size: 4 },
        })),
      ],
    };
    plot.current = new uPlot(options, alignSeries(records, series), element);
    const resize = new ResizeObserver(() => {
      plot.current?.setSize({ width: Math.max(200, element.clientWidth), height: 190 });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [seriesKey, unitRange]);

  // Swap in new points as they arrive.
  useEffect(() => {
    plot.current?.setData(data);
  }, [version, seriesKey]);

  return (
    <section class="chart-card" data-chart={title} data-points={points}>
      <header>
        <h3>{title}</h3>
        <span class="muted small">{points > 0 ? `${stages} · ${points} ${points === 1 ? 'step' : 'steps'}` : ''}</span>
      </header>
      {series.length === 0 ? (
        <div class="chart-empty">no data yet</div>
      ) : (
        <div class="chart" ref={container} />
      )}
    </section>
  );
}
