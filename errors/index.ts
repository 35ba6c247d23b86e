/**
 * The project's one error type, a leaf every layer may import. `code`
 * mirrors the errno the FreeBSD kernel (or Linux, for system calls) would
 * report, so callers can branch on it; `message` is written for the person
 * who has to act on it.
 */

/** Every errno name a NetdumpError may carry: the kernel's and the system calls' we make. */
export const ERROR_CODES = [
  'EPERM',
  'ENOENT',
  'ESRCH',
  'EINTR',
  'EIO',
  'ENXIO',
  'EBADF',
  'EAGAIN',
  'ENOMEM',
  'EACCES',
  'EBUSY',
  'EEXIST',
  'EXDEV',
  'ENODEV',
  'ENOTDIR',
  'EISDIR',
  'EINVAL',
  'ENFILE',
  'EMFILE',
  'EFBIG',
  'ENOSPC',
  'EROFS',
  'EPIPE',
  'ENAMETOOLONG',
  'ENOSYS',
  'ELOOP',
  'EBADMSG',
  'EMSGSIZE',
  'EPROTONOSUPPORT',
  'EOPNOTSUPP',
  'EAFNOSUPPORT',
  'EADDRINUSE',
  'EADDRNOTAVAIL',
  'ENETDOWN',
  'ENETUNREACH',
  'ENOBUFS',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EDQUOT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** A system call's errno name as an ErrorCode; one this list does not name becomes `fallback`. */
export function errorCodeOf(name: unknown, fallback: ErrorCode = 'EIO'): ErrorCode {
  return typeof name === 'string' && KNOWN_CODES.has(name) ? (name as ErrorCode) : fallback;
}

export class NetdumpError extends Error {
  override name = 'NetdumpError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errno?: number,
  ) {
    super(message);
  }
}
