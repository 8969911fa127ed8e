/**
 * `npx tsx bench/data.ts [--count N] [--size S]`: the cost of the synthetic data generators, which
 * training calls on the fly (two images per step): ms per image of `generateScene` (shapes) and
 * `generateFigures` (stick people with keypoints), as process CPU time (what the generator costs,
 * however busy the machine) and wall time, after a warm-up, seeds 0 … N−1, three rounds.
 */
import { parseArgs } from 'node:util';
import { generateFigures } from '../src/data/figures.ts';
import { generateScene } from '../src/data/scenes.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '200' }, size: { type: 'string', default: '256' } } });
const count = Number(values.count);
const size = Number(values.size);
const options = { width: size, height: size };

function measure(generate: (seed: number) => unknown): { cpu: number; wall: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let seed = 0; seed < count; seed++) generate(seed);
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000 / count, wall: (performance.now() - t0) / count };
}

const generators = { shapes: (s: number) => generateScene(s, options), figures: (s: number) => generateFigures(s, options) };
for (const g of Object.values(generators)) for (let s = 0; s < 20; s++) g(1_000_000 + s); // warm-up (JIT)
console.log(`${count} images of ${size}×${size} per round; ms per image, CPU (wall)`);
for (let round = 1; round <= 3; round++) {
  const cells = Object.entries(generators).map(([name, g]) => {
    const { cpu, wall } = measure(g);
    return `${name} ${cpu.toFixed(2)} (${wall.toFixed(2)})`;
  });
  console.log(`round ${round}: ${cells.join(', ')}`);
}
