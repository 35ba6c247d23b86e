/**
 * A client's files, named and numbered as netdumpd does (spec §6.5):
 * `info.<host>.<N>` created exclusively (the index is taken from
 * `bounds.<host>`, else the first free one in 0..1023), then
 * `vmcore.<host>.<N>` created with truncation, then `bounds.<host>` = N+1.
 * All of them in the client's directory, held open for the whole dump.
 */
import { closeSync } from 'node:fs';

import type { HeldDirectory } from '../../native/index.js';
import { DumpDirectory, MAX_DUMPS, openForAppend, openTruncated, readBounds, writeBounds } from './dumpdir.js';
import { printable, type Logger } from './log.js';
import { strerror } from '../../errors/strerror.js';

export interface ClientFiles {
  /** The client's directory, held open: every later file of the dump is named relative to it. */
  dir: HeldDirectory;
  /** The directory as netdumpd names it: "." (or -p) or the herald's path, as its bytes. */
  path: Buffer;
  index: number;
  /** Names in `dir`; the core file's changes with the KDH's renames. */
  infoName: string;
  coreName: string;
  infoFd: number;
  coreFd: number;
}

/** "<path>/<name>": a file as netdumpd names it to the handler and in its log, relative to the dump directory. */
export const relativeName = (files: ClientFiles, name: string) => Buffer.concat([files.path, Buffer.from(`/${name}`, 'utf8')]);

export interface ClientIdentity {
  hostname: string;
  ip: string;
}

export const describeClient = (client: ClientIdentity) => `${printable(client.hostname)} [${client.ip}]`;

type InfoOpen = { fd: number } | { exists: true } | { failed: true };

function tryOpenInfo(dir: HeldDirectory, name: string, log: Logger): InfoOpen {
  try {
    return { fd: openForAppend(dir, name) };
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return { exists: true };
    log.error(`openat("${printable(name)}"): ${strerror(error)}\n`);
    return { failed: true };
  }
}

/**
 * Takes the dump's index and opens its info file. An error other than "the
 * file exists" (no descriptors left, a read-only directory) ends the search
 * after one log line: every other index would fail the same way.
 */
function allocateInfoFile(dir: HeldDirectory, client: ClientIdentity, log: Logger): { index: number; fd: number } | undefined {
  const infoName = (index: number) => `info.${client.hostname}.${index}`;
  const bound = readBounds(dir, `bounds.${client.hostname}`, describeClient(client), log);
  if (bound !== undefined) {
    const opened = tryOpenInfo(dir, infoName(bound), log);
    if ('fd' in opened) return { index: bound, fd: opened.fd };
    if ('failed' in opened) return undefined;
    log.error(`Incorrect bounds file for client ${describeClient(client)}\n`);
  }
  for (let index = 0; index < MAX_DUMPS; index++) {
    const opened = tryOpenInfo(dir, infoName(index), log);
    if ('fd' in opened) return { index, fd: opened.fd };
    if ('failed' in opened) return undefined;
  }
  log.error(`No free index for client ${describeClient(client)}\n`);
  return undefined;
}

/** Opens a new dump's files in `dir` (named `path` relative to the dump directory), or returns undefined. */
function openClientFiles(dir: HeldDirectory, path: Buffer, client: ClientIdentity, log: Logger): ClientFiles | undefined {
  const info = allocateInfoFile(dir, client, log);
  if (info === undefined) return undefined;
  const infoName = `info.${client.hostname}.${info.index}`;
  const coreName = `vmcore.${client.hostname}.${info.index}`;
  let coreFd: number;
  try {
    coreFd = openTruncated(dir, coreName);
  } catch (error) {
    // Keep the numbers in sync: give the index back.
    closeSync(info.fd);
    try {
      dir.unlink(infoName);
    } catch (unlinkError) {
      log.error(`unlinkat(${printable(infoName)}): ${strerror(unlinkError)}\n`);
    }
    log.error(`openat(${printable(coreName)}): ${strerror(error)}\n`);
    return undefined;
  }
  try {
    writeBounds(dir, `bounds.${client.hostname}`, info.index + 1, log);
  } catch (error) {
    closeSync(info.fd);
    closeSync(coreFd);
    throw error;
  }
  return { dir, path, index: info.index, infoName, coreName, infoFd: info.fd, coreFd };
}

/** Opens the client's directory and its files there; if either fails, or throws, the directory is closed. */
function openInDirectory(
  dumpDir: DumpDirectory,
  path: Buffer,
  client: ClientIdentity,
  log: Logger,
): { files: ClientFiles } | { refused: string } | { failed: true } {
  const opened = dumpDir.openClientDirectory(path);
  if ('refused' in opened) return opened;
  let files: ClientFiles | undefined;
  try {
    files = openClientFiles(opened.dir, path, client, log);
  } finally {
    if (files === undefined) opened.dir.close();
  }
  return files !== undefined ? { files } : { failed: true };
}

/** The herald's path if it is usable, else the default path; the files, or undefined. */
export function openFilesForHerald(
  dumpDir: DumpDirectory,
  heraldPath: Buffer | undefined,
  defaultPath: string,
  client: ClientIdentity,
  log: Logger,
): ClientFiles | undefined {
  if (heraldPath !== undefined) {
    const opened = openInDirectory(dumpDir, heraldPath, client, log);
    if ('files' in opened) return opened.files;
    if ('refused' in opened)
      log.warn(`Refusing path '${printable(heraldPath)}' from client ${describeClient(client)}: ${opened.refused}\n`);
    log.warn(`Can't create output files in path for client ${describeClient(client)}, retrying with default\n`);
  }
  const opened = openInDirectory(dumpDir, Buffer.from(defaultPath, 'utf8'), client, log);
  if ('files' in opened) return opened.files;
  if ('refused' in opened) log.error(`Default path '${printable(defaultPath)}' is unusable: ${opened.refused}\n`);
  log.error(`Can't create output files for new client ${describeClient(client)}\n`);
  return undefined;
}
