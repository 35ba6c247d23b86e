/**
 * The report's charts: Vega-Lite specifications of what the traces hold,
 * rendered here, in Node, to static SVG (Vega's own SVG renderer, no
 * browser and no canvas), so that the page needs no script and no network.
 * Each chart draws every trace in its own colour.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { dataBatches, quantile, type TraceAnalysis } from './trace.js';

export interface Chart {
  /** Names the chart in the page and in tests: a stable id. */
  id: string;
  title: string;
  /** What the chart shows and how to read it, one sentence or two. */
  caption: string;
  svg: string;
}

const WIDTH = 720;
const HEIGHT = 220;
const THROUGHPUT_BINS = 100;
const TIMELINE_BINS = 300;
const MIB = 2 ** 20;

type Row = Record<string, string | number>;

interface Frame {
  $schema: string;
  title: string;
  width: number;
  height: number;
  data: { values: Row[] };
}

function base(title: string, values: Row[]): Frame {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: WIDTH, height: HEIGHT, data: { values } };
}

const traceColour = { field: 'trace', type: 'nominal', title: 'trace' } as const;

/** Bytes of data batches acked per time bin, as MB/s, over the dump's time. */
function throughputSpec(traces: TraceAnalysis[]): TopLevelSpec {
  const longest = Math.max(0, ...traces.flatMap((trace) => trace.batches.map((batch) => batch.end)));
  const bin = Math.max(10_000, longest / THROUGHPUT_BINS);
  const values: Row[] = [];
  for (const trace of traces) {
    const bytes = new Map<number, number>();
    for (const batch of dataBatches(trace)) {
      const slot = Math.floor(batch.end / bin);
      bytes.set(slot, (bytes.get(slot) ?? 0) + batch.bytes);
    }
    const last = Math.max(-1, ...bytes.keys());
    for (let slot = 0; slot <= last; slot++) {
      values.push({ trace: trace.label, seconds: ((slot + 0.5) * bin) / 1e6, mbps: (bytes.get(slot) ?? 0) / MIB / (bin / 1e6) });
    }
  }
  return {
    ...base('Throughput over time', values),
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since the first batch' },
      y: { field: 'mbps', type: 'quantitative', title: 'MB/s (data acked)' },
      color: traceColour,
    },
  };
}

/** Each stretch of consecutive data batches: the median time per batch as a line, the slowest as a point. */
function batchTimelineSpec(traces: TraceAnalysis[]): TopLevelSpec {
  const values: Row[] = [];
  for (const trace of traces) {
    const batches = dataBatches(trace);
    const size = Math.max(1, Math.ceil(batches.length / TIMELINE_BINS));
    for (let first = 0; first < batches.length; first += size) {
      const group = batches.slice(first, first + size);
      const times = group.map((batch) => (batch.end - batch.start) / 1000).sort((a, b) => a - b);
      const seconds = group[0]!.start / 1e6;
      values.push({ trace: trace.label, seconds, ms: quantile(times, 0.5), statistic: 'median' });
      values.push({ trace: trace.label, seconds, ms: times.at(-1)!, statistic: 'slowest' });
    }
  }
  const encoding = {
    x: { field: 'seconds', type: 'quantitative', title: 'seconds since the first batch' },
    y: { field: 'ms', type: 'quantitative', title: 'ms per batch', scale: { type: 'symlog' } },
    color: traceColour,
  } as const;
  return {
    ...base('Time per batch over time', values),
    layer: [
      { mark: { type: 'line', strokeWidth: 1.5 }, transform: [{ filter: "datum.statistic === 'median'" }], encoding },
      { mark: { type: 'point', size: 14, filled: true }, transform: [{ filter: "datum.statistic === 'slowest'" }], encoding },
    ],
  };
}

const HISTOGRAM_BINS = 80;

/**
 * Counts per bin, the bins shared by all traces: binned here, not by Vega,
 * so that a long dump's hundreds of thousands of acks become 80 rows.
 */
function histogram(traces: TraceAnalysis[], valuesOf: (trace: TraceAnalysis) => number[]): Row[] {
  const all = traces.map(valuesOf);
  let low = Infinity;
  let high = -Infinity;
  for (const values of all) for (const value of values) [low, high] = [Math.min(low, value), Math.max(high, value)];
  if (low > high) return [];
  const width = Math.max((high - low) / HISTOGRAM_BINS, 1e-9);
  return traces.flatMap((trace, index) => {
    const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const value of all[index]!) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((value - low) / width))]!++;
    return counts.flatMap((count, bin) =>
      count === 0 ? [] : [{ trace: trace.label, from: low + bin * width, to: low + (bin + 1) * width, count }],
    );
  });
}

/** A histogram per trace, bars overlaid; the count axis is symlog so that a tail of a few shows. */
function histogramSpec(title: string, values: Row[], axisTitle: string): TopLevelSpec {
  return {
    ...base(title, values),
    mark: { type: 'bar', opacity: 0.55 },
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true }, title: axisTitle },
      x2: { field: 'to' },
      y: { field: 'count', type: 'quantitative', stack: null, title: 'count', scale: { type: 'symlog' } },
      color: traceColour,
    },
  };
}

const batchMillis = (trace: TraceAnalysis): number[] => dataBatches(trace).map((batch) => (batch.end - batch.start) / 1000);

/** The share of data batches that took 1, 2, 3… polls, side by side per trace. */
function pollsSpec(traces: TraceAnalysis[]): TopLevelSpec {
  const values: Row[] = [];
  for (const trace of traces) {
    const batches = dataBatches(trace);
    const counts = new Map<number, number>();
    for (const batch of batches) counts.set(batch.polls, (counts.get(batch.polls) ?? 0) + 1);
    for (const [polls, count] of [...counts].sort((a, b) => a[0] - b[0])) {
      values.push({ trace: trace.label, polls, percent: (count * 100) / batches.length });
    }
  }
  return {
    ...base('Polls per batch', values),
    mark: 'bar',
    encoding: {
      x: { field: 'polls', type: 'ordinal', title: 'polls until the batch was acked' },
      xOffset: { field: 'trace', type: 'nominal' },
      y: { field: 'percent', type: 'quantitative', title: '% of data batches' },
      color: traceColour,
    },
  };
}

/** Each retransmit round where it happened, at the offset of the batch it resent, sized by the packets resent. */
function retransmitSpec(traces: TraceAnalysis[]): TopLevelSpec {
  const values: Row[] = traces.flatMap((trace) =>
    trace.retransmits.map((round) => ({
      trace: trace.label,
      seconds: round.time / 1e6,
      offsetMiB: round.offset / MIB,
      packets: round.seqs.length,
      seqs: round.seqs.join(' '),
    })),
  );
  if (values.length === 0) {
    return {
      ...base('Retransmit rounds', [{ text: 'no retransmit round in these traces' }]),
      mark: { type: 'text', fontSize: 14 },
      encoding: { text: { field: 'text', type: 'nominal' } },
    };
  }
  return {
    ...base('Retransmit rounds', values),
    mark: { type: 'point', filled: true, opacity: 0.8 },
    encoding: {
      x: { field: 'seconds', type: 'quantitative', title: 'seconds since the first batch' },
      y: { field: 'offsetMiB', type: 'quantitative', title: 'offset of the batch resent (MiB)' },
      size: { field: 'packets', type: 'quantitative', title: 'packets resent' },
      color: traceColour,
    },
  };
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Every chart of the report, rendered. */
export async function renderCharts(traces: TraceAnalysis[]): Promise<Chart[]> {
  const charts: Array<Omit<Chart, 'svg'> & { spec: TopLevelSpec }> = [
    {
      id: 'throughput',
      title: 'Throughput over time',
      caption: 'Dump data acked per time slice, in MB/s.',
      spec: throughputSpec(traces),
    },
    {
      id: 'batch-time',
      title: 'Time per batch over time',
      caption:
        'From a batch’s first transmit to its last ack; per stretch of consecutive batches, the median (line) and the slowest (dot). Two ticks of 0.5 ms and the transmit are the floor.',
      spec: batchTimelineSpec(traces),
    },
    {
      id: 'batch-time-distribution',
      title: 'Time per batch: distribution',
      caption: 'How many data batches took how long; the count axis is logarithmic, so the tail shows.',
      spec: histogramSpec('Time per batch: distribution', histogram(traces, batchMillis), 'ms per batch'),
    },
    {
      id: 'polls',
      title: 'Polls per batch',
      caption: 'The kernel’s loop needs two: the first poll comes before the acks.',
      spec: pollsSpec(traces),
    },
    {
      id: 'ack-latency',
      title: 'Ack latency: distribution',
      caption: 'From a packet’s last transmit to the poll that took its ack, in µs.',
      spec: histogramSpec(
        'Ack latency: distribution',
        histogram(traces, (trace) => trace.ackLatencies),
        'µs from transmit to ack',
      ),
    },
    {
      id: 'retransmits',
      title: 'Retransmit rounds',
      caption: 'Each round on the timeline, at the offset of the batch whose packets it resent; larger dots resent more packets.',
      spec: retransmitSpec(traces),
    },
  ];
  const rendered: Chart[] = [];
  for (const { spec, ...chart } of charts) rendered.push({ ...chart, svg: await render(spec) });
  return rendered;
}
