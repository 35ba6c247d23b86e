/**
 * `npm run lint` can fail: in a copy of the tree, a planted layer violation,
 * import cycle, type-aware lint error and badly formatted file each make the
 * tool that guards against it exit non-zero and name the file. The clean
 * tree passing is what CI's own `npm run lint` shows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COPIED = [
  'errors',
  'native',
  'drivers',
  'src',
  'tsconfig.json',
  'package.json',
  'eslint.config.js',
  '.prettierrc.json',
  '.dependency-cruiser.cjs',
];
const TOOL_TIMEOUT_MS = 60_000;
/** CI may force colour on; the assertions read plain text. */
const PLAIN_ENV = { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' };

function run(cwd: string, command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(path.join(ROOT, 'node_modules', '.bin', command), args, {
    cwd,
    env: PLAIN_ENV,
    encoding: 'utf8',
    timeout: TOOL_TIMEOUT_MS,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('npm run lint fails on a planted violation', () => {
  let copy = '';

  before(() => {
    copy = mkdtempSync(path.join(tmpdir(), 'netdump-lint-'));
    for (const name of COPIED) cpSync(path.join(ROOT, name), path.join(copy, name), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  });

  after(() => {
    if (copy !== '') rmSync(copy, { recursive: true, force: true });
  });

  test('the lint script runs all three checks', () => {
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts.lint, 'eslint . && prettier --check . && npm run lint:layers');
    assert.match(scripts['lint:layers'] ?? '', /^depcruise errors native drivers src scripts test --config \.dependency-cruiser\.cjs$/);
    assert.match(scripts.test ?? '', /npm run build && npm run lint && /);
  });

  test('net importing the client, and a cycle inside native/', () => {
    writeFileSync(
      path.join(copy, 'src/net/planted.ts'),
      "import type { Profile } from '../client/profile.js';\nexport type P = Profile;\n",
    );
    writeFileSync(path.join(copy, 'native/planted-a.ts'), "import type { B } from './planted-b.js';\nexport type A = B | 1;\n");
    writeFileSync(path.join(copy, 'native/planted-b.ts'), "import type { A } from './planted-a.js';\nexport type B = A | 2;\n");
    const { status, output } = run(copy, 'depcruise', ['errors', 'native', 'drivers', 'src', '--config', '.dependency-cruiser.cjs']);
    assert.notEqual(status, 0, output);
    assert.match(output, /error layer-net: src\/net\/planted\.ts → src\/client\/profile\.ts/);
    assert.match(output, /error no-circular: native\/planted-a\.ts →/);
    assert.match(output, /2 dependency violations \(2 errors/);
  });

  test('drivers importing from src/ beyond the wire', () => {
    writeFileSync(
      path.join(copy, 'drivers/planted.ts'),
      "import { NetStack } from '../src/net/stack.js';\nexport const stack = NetStack;\n",
    );
    const { status, output } = run(copy, 'depcruise', ['drivers', '--config', '.dependency-cruiser.cjs']);
    assert.notEqual(status, 0, output);
    assert.match(output, /error layer-drivers: drivers\/planted\.ts → src\/net\/stack\.ts/);
  });

  test('an npm package in a layer that does not name it', () => {
    writeFileSync(path.join(copy, 'src/client/planted-npm.ts'), "import ts from 'typescript';\nexport const version = ts.version;\n");
    const { status, output } = run(copy, 'depcruise', ['src/client', '--config', '.dependency-cruiser.cjs']);
    assert.notEqual(status, 0, output);
    assert.match(output, /error layer-client: src\/client\/planted-npm\.ts → node_modules\/typescript\//);
  });

  test('a floating promise (a type-aware rule)', () => {
    writeFileSync(path.join(copy, 'src/cli/planted-lint.ts'), 'export async function later(): Promise<void> {}\nlater();\n');
    const { status, output } = run(copy, 'eslint', ['src/cli/planted-lint.ts']);
    assert.equal(status, 1, output);
    assert.match(output, /planted-lint\.ts[\s\S]*@typescript-eslint\/no-floating-promises/);
  });

  test('a file Prettier would change', () => {
    writeFileSync(path.join(copy, 'src/cli/planted-format.ts'), 'export const x = {a:1,\n  b : 2}\n');
    const { status, output } = run(copy, 'prettier', ['--check', 'src/cli/planted-format.ts']);
    assert.equal(status, 1, output);
    assert.match(output, /\[warn\] src\/cli\/planted-format\.ts/);
  });
});
