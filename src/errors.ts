/**
 * The project's one error type. `code` mirrors the errno the FreeBSD kernel
 * (or Linux, for system calls) would report, so callers can branch on it;
 * `message` is written for the person who has to act on it.
 */
export type ErrorCode =
  | 'EPERM'
  | 'ENOENT'
  | 'ENODEV'
  | 'ENETDOWN'
  | 'EMSGSIZE'
  | 'EINVAL'
  | 'EBADMSG'
  | 'ETIMEDOUT'
  | 'ENOBUFS'
  | 'EBUSY'
  | 'EBADF'
  | 'EIO'
  | 'ECONNREFUSED'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'EACCES'
  // Any other errno name a system call reported.
  | (string & {});

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
