/**
 * `npm run convert -- --weights FILE --out DIR [--config-json FILE|JSON] [--dtype float32|float16]
 *                    [config fields, e.g. --num-classes 7]`
 *
 * Reads a checkpoint (PyTorch .pth zip or legacy, .safetensors), renames old torchvision spellings,
 * checks it against the config (torchvision defaults unless told otherwise) and writes our
 * fast-loading format: DIR/model.json + DIR/weights-NNN-of-MMM.bin (float32 or float16, CRC-32 checked).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MaskRcnnSpec, TORCHVISION_KEYWORDS, mergeSpecs, toConfig, withField } from '../config.ts';
import { type ShardManifest, STORED_DTYPES, type StoredDtype, loadCheckpoint, MANIFEST_FILE, validateStateDict, writeShards } from '../weights/index.ts';
import { parseArgs, UsageError, runIfMain } from './args.ts';

const USAGE = `usage: npm run convert -- --weights FILE --out DIR [--config-json FILE|JSON] [--dtype float32|float16] [--shard-mb N] [config fields]
  --weights FILE      torchvision checkpoint: .pth (zip or legacy) or .safetensors
  --out DIR           where to write model.json and the weight shards (created if needed)
  --config-json X     the model's config: a JSON file or inline JSON, our nested fields
                      ({"numClasses": 7, "backbone": {"depth": 18}}) or torchvision keywords ({"num_classes": 7})
  --dtype D           how the shards store the weights: float32 (default, exact) or float16 (half the
                      bytes, each value rounded to the nearest float16; the loader widens it to float32)
  --shard-mb N        shard size in MiB (default 16)
config fields: torchvision keywords (--num-classes 7) or dotted config paths (--backbone.depth 18), see src/config.ts`;

const OWN_FLAGS = { weights: true, out: true, configJson: true, shardMb: true, dtype: true, help: false };

const SHARD_FILE = /^weights-\d{3}-of-\d{3}\.bin$/;

/** --dtype's value, or a UsageError listing the stored dtypes. */
export function dtypeFlag(value: string | undefined): StoredDtype {
  const d = value ?? 'float32';
  if (!Object.hasOwn(STORED_DTYPES, d)) {
    throw new UsageError(`--dtype ${d}: expected ${Object.keys(STORED_DTYPES).join(' or ')} (float16 halves the download; the loader widens it back to float32)`);
  }
  return d as StoredDtype;
}

/** Write a manifest and its shards into `outDir` (created), removing stale shards of an earlier conversion. */
export function writeShardFiles(outDir: string, manifest: ShardManifest, shards: readonly Uint8Array[]): void {
  mkdirSync(outDir, { recursive: true });
  for (const old of readdirSync(outDir)) if (SHARD_FILE.test(old)) rmSync(join(outDir, old));
  manifest.shards.forEach((s, i) => writeFileSync(join(outDir, s.file), shards[i]!));
  writeFileSync(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** --config-json: a file path or inline JSON; torchvision keywords are mapped to our fields. */
function readConfigJson(arg: string): MaskRcnnSpec {
  let text = arg;
  if (!arg.trimStart().startsWith('{')) {
    try {
      text = readFileSync(arg, 'utf8');
    } catch (e) {
      throw new UsageError(`--config-json ${arg}: not inline JSON and not a readable file (${(e as Error).message})`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--config-json ${arg}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new UsageError(`--config-json ${arg}: expected a JSON object of config fields`);
  let spec: MaskRcnnSpec = {};
  for (const [key, value] of Object.entries(json)) {
    spec = key in TORCHVISION_KEYWORDS ? withField(spec, key, value) : mergeSpecs(spec, { [key]: value } as MaskRcnnSpec);
  }
  return spec;
}

export function main(argv: readonly string[]): number {
  const { flags, spec: cliSpec } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const weightsPath = flags.get('weights');
  const outDir = flags.get('out');
  if (!weightsPath || !outDir) throw new UsageError(`--weights and --out are required\n${USAGE}`);
  const dtype = dtypeFlag(flags.get('dtype'));
  const shardMb = Number(flags.get('shardMb') ?? 16);
  if (!(shardMb > 0)) throw new UsageError(`--shard-mb ${flags.get('shardMb')}: expected a positive number of MiB`);
  const configJson = flags.get('configJson');
  const spec = mergeSpecs(configJson ? readConfigJson(configJson) : {}, cliSpec);
  const config = toConfig(spec);

  let bytes: Uint8Array;
  try {
    if (statSync(weightsPath).isDirectory()) throw new UsageError(`--weights ${weightsPath} is a directory; expected a .pth or .safetensors file`);
    bytes = new Uint8Array(readFileSync(weightsPath));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--weights ${weightsPath}: cannot read it (${(e as Error).message})`);
  }
  const t0 = performance.now();
  const { format, stateDict, renamed, dropped } = loadCheckpoint(bytes, weightsPath);
  const readMs = performance.now() - t0;
  console.log(`[convert] read ${weightsPath} (${format}, ${mb(bytes.length)}) in ${(readMs / 1000).toFixed(2)} s`);
  const dtypes = new Map<string, number>();
  let params = 0;
  for (const t of stateDict.values()) {
    dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + 1);
    params += t.data.length;
  }
  console.log(
    `[convert] ${stateDict.size} tensors, ${params.toLocaleString('en-US')} values (${[...dtypes].map(([d, n]) => `${d}: ${n}`).join(', ')}); ` +
      `renamed ${renamed.length} old-spelling names; dropped ${dropped.length} num_batches_tracked`,
  );
  validateStateDict(stateDict, config);
  console.log(`[convert] matches the config: ResNet-${config.backbone.depth}-FPN, ${config.numClasses} classes (background included)`);

  const { manifest, shards } = writeShards(stateDict, { config: spec, shardBytes: Math.round(shardMb * 2 ** 20), dtype });
  writeShardFiles(outDir, manifest, shards);
  console.log(`[convert] wrote ${join(outDir, MANIFEST_FILE)} + ${shards.length} shard(s), ${mb(manifest.totalBytes)} of ${dtype}`);
  return 0;
}

runIfMain(import.meta.url, main);
