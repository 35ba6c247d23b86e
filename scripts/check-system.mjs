// npm test's first step: the system tools the tests use, installed when
// missing (as root with apt-get) or named in one line (scripts/system-tools.mjs).
import { ensureTools, TEST_TOOLS } from './system-tools.mjs';

ensureTools(TEST_TOOLS, 'npm test');
