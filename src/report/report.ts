/**
 * netdump report: traces in, one HTML page out (trace.ts reads them,
 * charts.ts draws them, html.ts lays the page out).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { errorCodeOf, NetdumpError } from '../../errors/index.js';
import { renderCharts } from './charts.js';
import { reportPage } from './html.js';
import { readTrace, summarize } from './trace.js';

/** Each trace's name in the report: its file name without the extension, made unique. */
export function traceLabels(files: string[]): string[] {
  const seen = new Map<string, number>();
  return files.map((file) => {
    const name = path.basename(file, path.extname(file));
    const times = (seen.get(name) ?? 0) + 1;
    seen.set(name, times);
    return times === 1 ? name : `${name} (${times})`;
  });
}

/** Writes the report of `traceFiles` to `output` (whole or not at all); returns the ids of its charts. */
export async function writeReport(traceFiles: string[], output: string): Promise<string[]> {
  const labels = traceLabels(traceFiles);
  const traces = traceFiles.map((file, index) => readTrace(file, labels[index]!));
  const charts = await renderCharts(traces);
  const page = reportPage(traces, traces.map(summarize), charts);
  const partial = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.partial`);
  try {
    writeFileSync(partial, page);
    renameSync(partial, output);
  } catch (error) {
    rmSync(partial, { force: true });
    const code = errorCodeOf((error as NodeJS.ErrnoException).code);
    throw new NetdumpError(code, `cannot write the report ${output}: ${(error as Error).message}`);
  }
  return charts.map((chart) => chart.id);
}
