/**
 * The torchvision oracle: Debian's python3-torchvision run with /usr/bin/python3. Parity tests call
 * `oracle(script, args)`. Where torchvision is missing they are skipped with a message, except under
 * CI (`CI=true`), where a missing oracle is a failure: `.ci/run` installs it.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const ORACLE_DIR = join(import.meta.dirname, '..', 'oracle');

let cached: boolean | undefined;

/** True when `/usr/bin/python3 -c "import torchvision"` works. Throws under CI when it does not. */
export function hasTorchvision(): boolean {
  if (cached === undefined) {
    try {
      execFileSync(PYTHON, ['-c', 'import torch, torchvision, numpy'], { stdio: 'pipe' });
      cached = true;
    } catch {
      cached = false;
    }
  }
  if (!cached && process.env['CI']) {
    throw new Error('torchvision oracle missing under CI: apt-get install python3-torchvision (see .ci/run)');
  }
  if (!cached) {
    console.warn('[oracle] torchvision not found at /usr/bin/python3: parity tests skipped (apt-get install python3-torchvision)');
  }
  return cached;
}

/** Run `tests/oracle/<script>` with args; returns stdout. Errors include the script's stderr. */
export function oracle(script: string, args: string[] = [], timeoutMs = 900_000): string {
  try {
    return execFileSync(PYTHON, [join(ORACLE_DIR, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      maxBuffer: 1 << 28,
      env: { ...process.env, OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'] ?? '2' },
    }).toString();
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`oracle ${script} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}
