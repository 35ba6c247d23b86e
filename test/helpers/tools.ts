/**
 * A system tool a test runs, checked before anything is started, so that a
 * missing one fails the test at once and says what to install.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(path.join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Throws unless `command` is on PATH, naming the Debian package that brings it. */
export function requireTool(command: string, debianPackage: string): void {
  if (!onPath(command)) throw new Error(`${command} is not installed: apt-get install -y ${debianPackage}`);
}
