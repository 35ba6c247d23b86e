/** C's strerror(3) text for a Node system error or an addon error, as netdumpd would log it. */
import { getSystemErrorMap } from 'node:util';

const systemErrors = getSystemErrorMap();

export function strerror(error: unknown): string {
  const errno = (error as NodeJS.ErrnoException).errno;
  // Node's errors carry libuv's negated errno; the addon's carry the errno itself.
  const entry = typeof errno === 'number' ? systemErrors.get(-Math.abs(errno)) : undefined;
  if (entry === undefined) return error instanceof Error ? error.message : String(error);
  const text = entry[1];
  return text.charAt(0).toUpperCase() + text.slice(1);
}
