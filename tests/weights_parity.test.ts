import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, toConfig } from '../src/config.ts';
import { CheckpointError, canonicalName, expectedShapes, loadCheckpoint, readCheckpoint, validateStateDict } from '../src/weights/index.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

interface Expected {
  tensors: Record<string, { shape: number[]; dtype: string; values: number[]; contiguous: boolean; storage_offset: number }>;
  marker: string;
  evil: Record<string, { globals: string[]; reduce: boolean }>;
  tiny: Record<string, { shape: number[]; sum: number; first: number[] }>;
}
interface ModelKeys {
  default: Array<[string, number[]]>;
  r18c7: Array<[string, number[]]>;
  old_to_new: Array<[string, string]>;
}

/** The tiny torchvision model of checkpoints.py `tiny_model()`, as our config. */
const TINY = toConfig({
  numClasses: 7,
  backbone: { depth: 18 },
  fpn: { outChannels: 16 },
  roiHeads: { boxHead: { representationSize: 32 }, maskHead: { layers: [16, 16] }, maskPredictor: { dimReduced: 16 } },
});

describe.runIf(hasTorchvision())('checkpoints written by torch 1.13 / torchvision 0.14', () => {
  let dir: string;
  let expected: Expected;
  let keys: ModelKeys;
  const read = (f: string) => readFileSync(join(dir, f));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    oracle('checkpoints.py', ['write', dir]);
    expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    keys = JSON.parse(oracle('checkpoints.py', ['model-keys'])) as ModelKeys;
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['zip.pth', 'legacy.pth', 'model.safetensors', 'wrapped_model.pth', 'wrapped_state_dict.pth'])(
    'readCheckpoint(%s) equals what torch.load reads: names, shapes, dtypes, float32 values (views, shared storage, fp16, bf16, int64)',
    (file) => {
      const sd = readCheckpoint(new Uint8Array(read(file)), file);
      const names = Object.keys(expected.tensors).filter((n) => !n.endsWith('num_batches_tracked'));
      expect([...sd.keys()]).toEqual(names);
      for (const name of names) {
        const e = expected.tensors[name]!;
        const t = sd.get(name)!;
        expect(t.shape, name).toEqual(e.shape);
        expect(t.dtype, name).toBe(e.dtype);
        // torch's values in float64, rounded once to float32: must be bit-identical.
        expect(Array.from(t.data), name).toEqual(e.values.map(Math.fround));
      }
    },
  );

  it('the oracle file really exercises views: d.transposed is non-contiguous, e.slice has storage offset 6', () => {
    expect(expected.tensors['d.transposed']!.contiguous).toBe(false);
    expect(expected.tensors['e.slice']!.storage_offset).toBe(6);
  });

  it.each(['evil_zip.pth', 'evil_legacy.pth', 'evil_zip_p4.pth', 'evil_eval.pth'])(
    'readCheckpoint(%s) refuses the malicious global by name and runs nothing',
    (file) => {
      const refused = file === 'evil_eval.pth' ? '__builtin__.eval' : 'posix.system';
      expect(() => readCheckpoint(new Uint8Array(read(file)), file)).toThrow(CheckpointError);
      expect(() => readCheckpoint(new Uint8Array(read(file)), file)).toThrow(new RegExp(`refused global '${refused.replace('.', '\\.')}'.*may be malicious`));
      expect(existsSync(expected.marker)).toBe(false);
    },
  );

  it('the malicious files are real: pickletools shows the global followed by REDUCE, and torch.load creates the marker', () => {
    expect(expected.evil['evil_zip.pth']).toMatchObject({ reduce: true });
    expect(expected.evil['evil_zip.pth']!.globals.at(-1)).toBe('posix.system');
    expect(expected.evil['evil_eval.pth']!.globals.at(-1)).toBe('__builtin__.eval');
    expect(existsSync(expected.marker)).toBe(false);
    oracle('checkpoints.py', ['torch-load', join(dir, 'evil_zip.pth')]);
    expect(existsSync(expected.marker)).toBe(true);
    rmSync(expected.marker);
  });

  it('readCheckpoint(a pickled nn.Module) refuses it and says to save model.state_dict()', () => {
    expect(() => readCheckpoint(new Uint8Array(read('whole_module.pth')))).toThrow(/refused global 'torch\.nn\.modules\.linear\.Linear'.*model\.state_dict\(\)/);
  });

  it.each(['zip.pth', 'legacy.pth', 'model.safetensors', 'tiny_old_legacy.pth'])(
    'readCheckpoint(%s truncated at 10 cut points) always throws a CheckpointError saying truncated or corrupt',
    (file) => {
      const bytes = new Uint8Array(read(file));
      for (let k = 1; k <= 10; k++) {
        const cut = bytes.subarray(0, Math.floor((bytes.length * k) / 11));
        let error: unknown;
        try {
          readCheckpoint(cut, file);
        } catch (e) {
          error = e;
        }
        expect(error, `${file} cut at ${cut.length}`).toBeInstanceOf(CheckpointError);
        expect((error as Error).message, `${file} cut at ${cut.length}`).toMatch(/truncated|corrupt/);
      }
    },
  );

  it('expectedShapes(default config) equals maskrcnn_resnet50_fpn().state_dict() names and shapes, in order, less num_batches_tracked', () => {
    const torchvision = keys.default.filter(([n]) => !n.endsWith('num_batches_tracked'));
    expect(keys.default.length - torchvision.length).toBe(53); // one per BatchNorm: the names do exist there
    expect([...expectedShapes(defaultConfig())]).toEqual(torchvision);
  });

  it("expectedShapes({depth 18, numClasses 7}) equals MaskRCNN(resnet_fpn_backbone('resnet18'), num_classes=7)", () => {
    expect([...expectedShapes(toConfig({ backbone: { depth: 18 }, numClasses: 7 }))]).toEqual(keys.r18c7);
  });

  it('canonicalName maps every old spelling torchvision 0.14 still accepts to the tensor it loads it into (26 names)', () => {
    expect(keys.old_to_new).toHaveLength(16 + 2 + 8); // FPN inner+layer 4×2×2, RPN conv 2, mask_fcn1..4 ×2
    for (const [old, current] of keys.old_to_new) expect(canonicalName(old), old).toBe(current);
  });

  it('readCheckpoint(legacy file with old spellings) then validateStateDict passes; every tensor matches torch (sum and first values)', () => {
    const { format, stateDict, renamed } = loadCheckpoint(new Uint8Array(read('tiny_old_legacy.pth')), 'tiny_old_legacy.pth');
    expect(format).toBe('torch-legacy');
    expect(renamed).toHaveLength(16 + 2 + 4);
    validateStateDict(stateDict, TINY);
    expect([...stateDict.keys()]).toEqual(Object.keys(expected.tiny));
    for (const [name, e] of Object.entries(expected.tiny)) {
      const t = stateDict.get(name)!;
      expect(t.shape, name).toEqual(e.shape);
      expect(Array.from(t.data.subarray(0, 3)), name).toEqual(e.first.map(Math.fround));
      let sum = 0;
      for (const v of t.data) sum += v;
      expect(Math.abs(sum - e.sum), name).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e.sum)) * Math.sqrt(t.data.length));
    }
  });

  it('validateStateDict(tiny checkpoint, default config) names the first mismatch and the depth it looks like', () => {
    const sd = readCheckpoint(new Uint8Array(read('tiny_old_legacy.pth')));
    expect(() => validateStateDict(sd, defaultConfig())).toThrow(
      'checkpoint has backbone.body.layer1.0.conv1.weight of shape [64, 64, 3, 3]; this model expects [64, 64, 1, 1]; ' +
        "this model's backbone is ResNet-50 with baseWidth 64; the checkpoint looks like ResNet-18: set backbone.depth: 18",
    );
  });
});
