/** A trace's events analysed at once, for tests (the report reads trace files one event at a time). */
import { TraceAnalyzer, type TraceAnalysis, type TraceEvent } from '../../src/report/trace.js';

/** The batches, acks and retransmit rounds of a trace's events, in their order. */
export function analyzeTrace(events: TraceEvent[], label: string, source = label): TraceAnalysis {
  const analyzer = new TraceAnalyzer(label, source);
  for (const event of events) analyzer.add(event);
  return analyzer.finish();
}
