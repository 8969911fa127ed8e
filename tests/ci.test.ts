/**
 * The fresh-machine contract: the Debian packages the tests need are listed once (.ci/packages),
 * .ci/run installs exactly that list, .ci/check verifies each, and the README's set-up names them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const listed = read('.ci/packages').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/)[0]!);

describe('.ci/packages, .ci/run, .ci/check and the README', () => {
  it('.ci/packages lists chromium, libvulkan1 and the torchvision oracle, once each', () => {
    expect(listed).toEqual(expect.arrayContaining(['chromium', 'libvulkan1', 'python3-torchvision', 'python3-numpy', 'python3-pil']));
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("the README's apt-get line installs exactly .ci/packages", () => {
    const line = /apt-get install (?:--no-install-recommends )?([^\n`]+)/.exec(read('README.md'));
    expect(line, 'README names an apt-get install line').not.toBeNull();
    expect(line![1]!.trim().split(/\s+/).sort()).toEqual([...listed].sort());
  });

  it('.ci/run installs .ci/packages without recommends, runs .ci/check, then the README\'s npm test', () => {
    const run = read('.ci/run');
    expect(run).toMatch(/\.ci\/packages/);
    expect(run).toMatch(/--no-install-recommends "\$\{PACKAGES\[@\]\}"/);
    expect(run.indexOf('.ci/check')).toBeLessThan(run.indexOf('npm test'));
    expect(run).toMatch(/^npm test$/m);
  });

  it('.ci/check reads the list it verifies from .ci/packages (bash -n clean), so a package added there is checked', () => {
    execFileSync('bash', ['-n', join(ROOT, '.ci/check')]);
    execFileSync('bash', ['-n', join(ROOT, '.ci/run')]);
    expect(read('.ci/check')).toMatch(/dpkg-query -W -f='\$\{Status\}'/);
    expect(read('.ci/check')).toMatch(/\.ci\/packages/);
  });
});
