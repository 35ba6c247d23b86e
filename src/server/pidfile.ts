/**
 * netdumpd's pidfile: refuse to start while another running netdumpd holds
 * it, write our pid, remove it at exit.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

function runningNetdumpd(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('netdumpd');
  } catch {
    return false;
  }
}

/** The pid of a netdumpd already running with this pidfile, if any. */
export function pidfileHolder(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text, 10);
  return runningNetdumpd(pid) ? pid : undefined;
}

export function writePidfile(file: string): void {
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
}

export function removePidfile(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
