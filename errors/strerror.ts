/** C's strerror(3) text for a Node system error or an addon error, as netdumpd would log it (every layer may say why in these words). */
import { getSystemErrorMap } from 'node:util';

const systemErrors = getSystemErrorMap();

export function strerror(error: unknown): string {
  const { errno, code } = error as NodeJS.ErrnoException;
  // Node's errors carry libuv's negated errno; the addon's carry the errno itself. zlib's carry its own
  // numbers (Z_BUF_ERROR is -5, which is not EIO): only an E… code names a system error.
  const systemError = typeof errno === 'number' && (code === undefined || code.startsWith('E'));
  const entry = systemError ? systemErrors.get(-Math.abs(errno)) : undefined;
  if (entry === undefined) return error instanceof Error ? error.message : String(error);
  const text = entry[1];
  return text.charAt(0).toUpperCase() + text.slice(1);
}
