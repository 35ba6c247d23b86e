/**
 * A client's files, named and numbered as netdumpd does (spec §6.5):
 * `info.<host>.<N>` created exclusively (the index is taken from
 * `bounds.<host>`, else the first free one in 0..1023), then
 * `vmcore.<host>.<N>` created with truncation, then `bounds.<host>` = N+1.
 */
import { closeSync, unlinkSync } from 'node:fs';

import { DumpDirectory, MAX_DUMPS, openForAppend, openTruncated, readBounds, writeBounds } from './dumpdir.js';
import type { Logger } from './log.js';
import { strerror } from './strerror.js';

export interface ClientFiles {
  /** The client's directory as netdumpd names it: "." or the herald's path. */
  path: string;
  index: number;
  /** Relative to the dump directory, e.g. "./info.host.0". */
  infoFile: string;
  coreFile: string;
  infoFd: number;
  coreFd: number;
}

export interface ClientIdentity {
  hostname: string;
  ip: string;
}

const describe = (client: ClientIdentity) => `${client.hostname} [${client.ip}]`;

function tryOpenInfo(dumpDir: DumpDirectory, relative: string, log: Logger): number | undefined {
  try {
    return openForAppend(dumpDir.absolute(relative));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') log.error(`openat("${relative}"): ${strerror(error)}\n`);
    return undefined;
  }
}

function allocateInfoFile(dumpDir: DumpDirectory, dir: string, client: ClientIdentity, log: Logger) {
  const infoName = (index: number) => `${dir}/info.${client.hostname}.${index}`;
  const bound = readBounds(dumpDir.absolute(`${dir}/bounds.${client.hostname}`), describe(client), log);
  if (bound !== undefined) {
    const fd = tryOpenInfo(dumpDir, infoName(bound), log);
    if (fd !== undefined) return { index: bound, fd };
    log.error(`Incorrect bounds file for client ${describe(client)}\n`);
  }
  for (let index = 0; index < MAX_DUMPS; index++) {
    const fd = tryOpenInfo(dumpDir, infoName(index), log);
    if (fd !== undefined) return { index, fd };
  }
  log.error(`No free index for client ${describe(client)}\n`);
  return undefined;
}

/** Opens a new dump's files in `dir` (relative to the dump directory), or returns undefined. */
export function openClientFiles(dumpDir: DumpDirectory, dir: string, client: ClientIdentity, log: Logger): ClientFiles | undefined {
  const info = allocateInfoFile(dumpDir, dir, client, log);
  if (info === undefined) return undefined;
  const infoFile = `${dir}/info.${client.hostname}.${info.index}`;
  const coreFile = `${dir}/vmcore.${client.hostname}.${info.index}`;
  let coreFd: number;
  try {
    coreFd = openTruncated(dumpDir.absolute(coreFile));
  } catch (error) {
    // Keep the numbers in sync: give the index back.
    closeSync(info.fd);
    unlinkSync(dumpDir.absolute(infoFile));
    log.error(`openat(${coreFile}): ${strerror(error)}\n`);
    return undefined;
  }
  writeBounds(dumpDir.absolute(`${dir}/bounds.${client.hostname}`), info.index + 1, log);
  return { path: dir, index: info.index, infoFile, coreFile, infoFd: info.fd, coreFd };
}

/** The herald's path if it is usable, else the default path; the files, or undefined. */
export function openFilesForHerald(
  dumpDir: DumpDirectory,
  heraldPath: string | undefined,
  defaultPath: string,
  client: ClientIdentity,
  log: Logger,
): ClientFiles | undefined {
  if (heraldPath !== undefined) {
    const resolved = dumpDir.resolveClientDirectory(heraldPath);
    const files = 'dir' in resolved ? openClientFiles(dumpDir, heraldPath, client, log) : undefined;
    if (files !== undefined) return files;
    if ('refused' in resolved) log.warn(`Refusing path '${heraldPath}' from client ${describe(client)}: ${resolved.refused}\n`);
    log.warn(`Can't create output files in path for client ${describe(client)}, retrying with default\n`);
  }
  const resolved = dumpDir.resolveClientDirectory(defaultPath);
  const files = 'dir' in resolved ? openClientFiles(dumpDir, defaultPath, client, log) : undefined;
  if (files === undefined) {
    if ('refused' in resolved) log.error(`Default path '${defaultPath}' is unusable: ${resolved.refused}\n`);
    log.error(`Can't create output files for new client ${describe(client)}\n`);
  }
  return files;
}
