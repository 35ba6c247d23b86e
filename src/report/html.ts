/**
 * The report page: one self-contained HTML file, no script and nothing
 * fetched, with a summary table per trace, the charts as inline SVG, and
 * the retransmit rounds listed with the sequence numbers they resent.
 */
import type { Chart } from './charts.js';
import type { RetransmitRound, TraceAnalysis, TraceSummary } from './trace.js';

/** Rows of the retransmit table shown at most; the chart shows them all. */
const RETRANSMIT_ROWS = 200;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 900px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1.5em 0; } figcaption { color: #555; margin-top: 0.3em; }
code { font-size: 0.95em; }`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

const fixed = (value: number, digits: number): string => value.toFixed(digits);

function summaryTable(summaries: TraceSummary[]): string {
  const rows: Array<[string, (summary: TraceSummary) => string]> = [
    ['trace', (s) => escapeHtml(s.label)],
    ['seconds (first batch to last ack)', (s) => fixed(s.seconds, 2)],
    ['dump data', (s) => `${fixed(s.dataBytes / 2 ** 20, 1)} MiB`],
    ['MB/s (data batches)', (s) => fixed(s.megabytesPerSecond, 1)],
    ['data batches', (s) => String(s.batches)],
    ['time per batch: mean', (s) => `${fixed(s.batchMicros.mean, 0)} µs`],
    ['p50 / p99 / max', (s) => `${fixed(s.batchMicros.p50, 0)} / ${fixed(s.batchMicros.p99, 0)} / ${fixed(s.batchMicros.max, 0)} µs`],
    ['polls per batch', (s) => fixed(s.pollsPerBatch, 2)],
    ['acks', (s) => String(s.acks)],
    ['ack latency p50 / p99', (s) => `${fixed(s.ackMicros.p50, 0)} / ${fixed(s.ackMicros.p99, 0)} µs`],
    ['retransmit rounds', (s) => String(s.retransmitRounds)],
    ['packets resent', (s) => String(s.packetsResent)],
    ['ends', (s) => escapeHtml(s.ending)],
  ];
  const body = rows.map(([name, cell]) => `<tr><th>${name}</th>${summaries.map((s) => `<td>${cell(s)}</td>`).join('')}</tr>`);
  return `<table id="summary">\n${body.join('\n')}\n</table>`;
}

function retransmitTable(traces: TraceAnalysis[]): string {
  const rows: Array<{ label: string; round: RetransmitRound }> = traces.flatMap((trace) =>
    trace.retransmits.map((round) => ({ label: trace.label, round })),
  );
  if (rows.length === 0) return '<p>No retransmit round.</p>';
  const shown = rows
    .slice(0, RETRANSMIT_ROWS)
    .map(
      ({ label, round }) =>
        `<tr><td>${escapeHtml(label)}</td><td>${fixed(round.time / 1e6, 3)}</td><td>${round.round}</td>` +
        `<td>${round.offset}</td><td>${round.seqs.join(' ')}</td></tr>`,
    );
  const more = rows.length > RETRANSMIT_ROWS ? `<p>… and ${rows.length - RETRANSMIT_ROWS} more rounds (all are in the chart).</p>` : '';
  return (
    `<table id="retransmit-rounds">\n<tr><th>trace</th><th>seconds</th><th>round</th><th>batch offset</th><th>sequence numbers resent</th></tr>\n` +
    `${shown.join('\n')}\n</table>${more}`
  );
}

export function reportPage(traces: TraceAnalysis[], summaries: TraceSummary[], charts: Chart[]): string {
  const figures = charts.map(
    (chart) =>
      `<figure id="chart-${chart.id}" data-chart="${chart.id}">\n${chart.svg}\n<figcaption>${escapeHtml(chart.caption)}</figcaption>\n</figure>`,
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netdump report: ${escapeHtml(traces.map((trace) => trace.label).join(', '))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>netdump: the polling path</h1>
<p>From ${traces.length === 1 ? 'the trace' : `${traces.length} traces`} written by <code>netdump --trace</code>. Times are from each trace's first batch.</p>
<h2>Summary</h2>
${summaryTable(summaries)}
<h2>Charts</h2>
${figures.join('\n')}
<h2>Retransmit rounds</h2>
${retransmitTable(traces)}
</body>
</html>
`;
}
