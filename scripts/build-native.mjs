// Builds the Node-API addon with node-gyp against the headers of the Node
// that runs this script, so an install never downloads headers.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { BUILD_TOOLS, ensureTools } from './system-tools.mjs';

ensureTools(BUILD_TOOLS, 'netdump: building the native addon');

const nodeDir = path.resolve(path.dirname(process.execPath), '..');
const header = path.join(nodeDir, 'include', 'node', 'node_api.h');
if (!existsSync(header)) {
  console.error(`netdump: cannot build the native addon: Node's headers are missing (${header}).`);
  console.error('Install the headers that match this Node (for example the nodejs-dev package).');
  process.exit(1);
}

function nodeGypScript() {
  // npm ships node-gyp; find it next to the npm that is running us.
  const candidates = [];
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  candidates.push(path.join(nodeDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally; the npm-bundled copy is enough
  }
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) {
    console.error('netdump: cannot find node-gyp (it ships with npm). Is npm installed?');
    process.exit(1);
  }
  return found;
}

try {
  execFileSync(process.execPath, [nodeGypScript(), 'rebuild', `--nodedir=${nodeDir}`], { stdio: 'inherit' });
} catch {
  console.error('netdump: building the native addon failed; see the compiler output above.');
  process.exit(1);
}
