/**
 * The post-dump handler script (netdumpd -i), run as netdumpd runs it:
 * argv = reason, client IP, hostname, info file, core file (paths relative
 * to the dump directory), working directory = the dump directory, and an
 * empty environment. Its exit status is logged.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

import type { Logger } from './log.js';

export interface HandlerRun {
  reason: 'success' | 'timeout' | 'error';
  ip: string;
  hostname: string;
  infoFile: string;
  coreFile: string;
}

export function runHandler(script: string, dumpDir: string, run: HandlerRun, log: Logger): void {
  // A relative script is the one checked at start-up, relative to our own
  // working directory, not to the dump directory the handler runs in.
  const child = spawn(path.resolve(script), [run.reason, run.ip, run.hostname, run.infoFile, run.coreFile], {
    cwd: dumpDir,
    env: {},
    stdio: 'ignore',
  });
  child.on('error', (error) => log.error(`cannot run handler ${script}: ${error.message}\n`));
  child.on('exit', (code, signal) => {
    if (code === 0) log.info(`Process ${child.pid} exited with status 0\n`);
    else if (code !== null) log.warn(`Process ${child.pid} exited with status ${code}\n`);
    else log.warn(`Process ${child.pid} was killed by ${signal}\n`);
  });
}
