/**
 * A dump pinned to one CPU (taskset, a cpuset) shares it with V8's
 * background threads, its optimizing compiler and its collector's helpers,
 * which the scheduler gives slices of it: the busy send loop stalls 6-20 ms
 * at a time while V8 warms up. With `--single-threaded` V8 does that work on
 * the main thread, between the loop's own steps. Measured here with the
 * client pinned: the first 16 MiB of a fast dump in 162-190 ms instead of
 * 205-215, and 256 MiB fast dumps into our server 8-18 % faster. It is a
 * flag V8 reads at start-up (set later with v8.setFlagsFromString it
 * changed nothing), so the CLI starts itself again with it.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const FLAG = '--single-threaded';
/** The dump's stop signals (native/stop-signals.ts): sent to us, they are meant for the copy. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Whether V8 runs without background threads in this process. */
export const singleThreaded = (): boolean => process.execArgv.includes(FLAG);

/** Whether this process may use one CPU only and V8 still has its background threads. */
export function wantsSingleThreaded(): boolean {
  return availableParallelism() === 1 && !singleThreaded();
}

/**
 * Runs this command again under --single-threaded, with the same standard
 * streams, passing the stop signals on; then ends as the copy ended: of its
 * signal, or with its status. `fail` reports a copy that cannot start.
 */
export function relaunchSingleThreaded(fail: (message: string) => never): Promise<never> {
  const child = spawn(process.execPath, [FLAG, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED) process.on(signal, forward);
  return new Promise(() => {
    child.once('error', (error) => fail(`cannot start again with ${FLAG}: ${error.message}`));
    child.once('exit', (code, signal) => {
      for (const forwarded of FORWARDED) process.off(forwarded, forward);
      if (signal !== null) process.kill(process.pid, signal);
      process.exit(code ?? 1);
    });
  });
}
