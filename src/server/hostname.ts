/**
 * A client's name for file names, as netdumpd picks it: reverse DNS (the
 * short name, cut at the first dot), else the numeric address. The lookup
 * is bounded: a dead name server must not hold up a dump.
 */
import { lookupService } from 'node:dns/promises';

function usableInFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/');
}

export async function clientHostname(ip: string, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, undefined);
  });
  try {
    const found = await Promise.race([lookupService(ip, 0).catch(() => undefined), timeout]);
    const short = found?.hostname.split('.')[0];
    return short !== undefined && short !== ip && usableInFileName(short) ? short : ip;
  } finally {
    clearTimeout(timer);
  }
}
