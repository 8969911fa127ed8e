/**
 * `npx tsx scripts/make-placeholder-model.ts --out DIR`: writes an *untrained placeholder* model
 * folder (e.g. public/models/tiny-random/ to offer it on the site; tests that need an untrained model
 * write one to a temp dir). The site's default model is the trained `public/models/default`; a placeholder is
 * listed after every trained model and labelled untrained.
 *
 * It is the tests' tiny ResNet-18-FPN (tests/support/tiny.ts `TINY`: 5 classes, 8-channel stem,
 * 16-channel FPN, min_size 96 / max_size 128) with seeded random weights
 * (tests/support/random_weights.ts, seed 0), written in our sharded format (model.json + float32
 * shards) with `about.json` that tells the site to label it as untrained. The output is
 * deterministic: re-running this script gives the same bytes.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toConfig } from '../src/config.ts';
import { MANIFEST_FILE, validateStateDict, writeShards } from '../src/weights/index.ts';
import { randomStateDict } from '../tests/support/random_weights.ts';
import { TINY } from '../tests/support/tiny.ts';
import type { ModelAbout } from '../src/site/model_index.ts';

const outFlag = process.argv.indexOf('--out');
if (outFlag < 0 || process.argv[outFlag + 1] === undefined) {
  console.error('usage: npx tsx scripts/make-placeholder-model.ts --out DIR   (e.g. --out public/models/tiny-random)');
  process.exit(2);
}
const OUT = resolve(process.argv[outFlag + 1]!);
const SEED = 0;

const config = toConfig(TINY);
const stateDict = randomStateDict(config, SEED);
validateStateDict(stateDict, config);
// Small shards (128 KiB) so the loading progress bar has steps to show.
const { manifest, shards } = writeShards(stateDict, { config: TINY, shardBytes: 128 * 1024 });

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
shards.forEach((bytes, i) => writeFileSync(join(OUT, manifest.shards[i]!.file), bytes));
const about: ModelAbout = {
  label: 'Tiny random ResNet-18-FPN (untrained placeholder)',
  placeholder: true,
  description:
    'Seeded random weights for the tiny test configuration (ResNet-18, 8-channel stem, 16-channel FPN, 5 classes, ' +
    'min_size 96 / max_size 128). It runs every stage of the real pipeline, but its detections mean nothing: ' +
    'it stands in until the trained default model ships.',
  classNames: ['__background__', 'class 1', 'class 2', 'class 3', 'class 4'],
};
writeFileSync(join(OUT, 'about.json'), `${JSON.stringify(about, null, 1)}\n`);
console.log(`${OUT}: ${manifest.tensors.length} tensors, ${manifest.totalBytes} bytes in ${shards.length} shard(s)`);
