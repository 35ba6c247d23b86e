/** `--version`: the package's version, read from its package.json at run time. */
import { readFileSync } from 'node:fs';

export function versionLine(program: string): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `${program} ${manifest.version}\n`;
}
