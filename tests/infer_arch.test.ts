/**
 * The checkpoint picker's architecture inference (src/site/infer_arch.ts) and the weights it makes
 * (src/site/models.ts `checkpointWeights`):
 *
 * - on the shapes of torchvision's own state dicts (the oracle builds `maskrcnn_resnet50_fpn` and a
 *   ResNet-18 Mask R-CNN and lists names and shapes): the inferred config's expected tensors are
 *   exactly torchvision's, names, order and shapes, and the COCO ResNet-50 gets FrozenBN eps 0;
 * - on hand-built shape maps: every inferred field (depth and block type, width, FPN, classes, box
 *   head and its pooling size, mask head layers, deconv) comes back, and files that are not a
 *   ResNet-FPN Mask R-CNN are refused with a message that says what they look like;
 * - on a `.pth` written by torch from torchvision's modules (tests/oracle/torchvision_checkpoint.py):
 *   read, inferred, matched to a site model of the same shapes (its input size and class names
 *   taken), and run: the same detections as the original weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COCO_CATEGORIES } from '../src/coco.ts';
import { type MaskRcnnSpec, toConfig } from '../src/config.ts';
import { SCENE_CLASSES } from '../src/data/shapes.ts';
import { createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import { inferArchitecture, shapesOf } from '../src/weights/infer_arch.ts';
import { CHECKPOINT_PRESETS, checkpointWeights, classNamesFor } from '../src/site/models.ts';
import type { ModelIndexEntry } from '../src/site/model_index.ts';
import { expectedShapes, loadCheckpoint, writeSafetensors } from '../src/weights/index.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

const shapesFor = (spec: MaskRcnnSpec) => expectedShapes(toConfig(spec));
const without = (shapes: Map<string, number[]>, drop: (name: string) => boolean) => new Map([...shapes].filter(([n]) => !drop(n)));

/** The shape-determining fields of a config. */
function shapeFields(spec: MaskRcnnSpec) {
  const c = toConfig(spec);
  return {
    numClasses: c.numClasses,
    depth: c.backbone.depth,
    baseWidth: c.backbone.baseWidth,
    fpn: c.fpn.outChannels,
    boxPool: c.roiHeads.boxRoiPool.outputSize,
    representation: c.roiHeads.boxHead.representationSize,
    maskLayers: c.roiHeads.maskHead.layers,
    dimReduced: c.roiHeads.maskPredictor.dimReduced,
  };
}

describe.runIf(hasTorchvision())("inferArchitecture on torchvision's own state dicts (oracle)", () => {
  let keys: { default: Array<[string, number[]]>; r18c7: Array<[string, number[]]> };
  beforeAll(() => {
    keys = JSON.parse(oracle('checkpoints.py', ['model-keys'], 300_000));
  });
  const asMap = (list: Array<[string, number[]]>) => new Map(list.filter(([n]) => !n.endsWith('num_batches_tracked')));

  it('maskrcnn_resnet50_fpn(): ResNet-50 width 64, FPN 256, 91 classes, box head 1024 on 7×7, mask head 4 × 256, FrozenBN eps 0; its expected tensors are torchvision\'s, in order', () => {
    const tv = asMap(keys.default);
    const { spec, summary } = inferArchitecture(tv);
    expect(shapeFields(spec)).toEqual({ numClasses: 91, depth: 50, baseWidth: 64, fpn: 256, boxPool: 7, representation: 1024, maskLayers: [256, 256, 256, 256], dimReduced: 256 });
    expect(toConfig(spec).backbone.frozenBnEps).toBe(0);
    expect(summary).toBe('ResNet-50 (bottleneck blocks, width 64), FPN 256, 91 classes, box head 1024, mask head 4 × 256, FrozenBN eps 0 (torchvision COCO)');
    expect([...shapesFor(spec)]).toEqual([...tv]);
  });

  it('MaskRCNN(resnet_fpn_backbone("resnet18"), num_classes=7): ResNet-18 basic blocks, 7 classes, FrozenBN eps 1e-5; expected tensors equal torchvision\'s', () => {
    const tv = asMap(keys.r18c7);
    const { spec } = inferArchitecture(tv);
    expect(shapeFields(spec)).toMatchObject({ numClasses: 7, depth: 18, baseWidth: 64, fpn: 256 });
    expect(toConfig(spec).backbone.frozenBnEps).toBe(1e-5);
    expect([...shapesFor(spec)]).toEqual([...tv]);
  });
});

describe('inferArchitecture on hand-built shape maps', () => {
  it('the tests\' TINY config (ResNet-18 width 8, FPN 16, 5 classes, box head 32, mask head 16-16) comes back field by field', () => {
    const { spec, summary } = inferArchitecture(shapesFor(TINY));
    expect(shapeFields(spec)).toEqual(shapeFields(TINY));
    expect(summary).toBe('ResNet-18 (basic blocks, width 8), FPN 16, 5 classes, box head 32, mask head 2 × 16, FrozenBN eps 1e-5');
  });

  it('ResNet-101 width 16, FPN 32, 3 classes, box head 48 on 5×5, mask head 8-12, deconv 10: every field comes back, and the summary names the odd ones', () => {
    const odd: MaskRcnnSpec = {
      numClasses: 3,
      backbone: { depth: 101, baseWidth: 16 },
      fpn: { outChannels: 32 },
      roiHeads: { boxRoiPool: { outputSize: 5 }, boxHead: { representationSize: 48 }, maskHead: { layers: [8, 12] }, maskPredictor: { dimReduced: 10 } },
    };
    const { spec, summary } = inferArchitecture(shapesFor(odd));
    expect(shapeFields(spec)).toEqual(shapeFields(odd));
    expect(summary).toBe('ResNet-101 (bottleneck blocks, width 16), FPN 32, 3 classes, box head 48 on 5×5, mask head 8-12, deconv 10, FrozenBN eps 1e-5');
  });

  it('ResNet-34 and ResNet-152 are told from 18 and 101 by their blocks per stage (3 4 6 3, 3 8 36 3)', () => {
    for (const depth of [34, 152] as const) expect(toConfig(inferArchitecture(shapesFor({ ...TINY, backbone: { depth, baseWidth: 8 } })).spec).backbone.depth).toBe(depth);
  });

  it('a ResNet-50 COCO-size model with another class count keeps eps 1e-5 (only the 91-class ResNet-50 is taken for torchvision\'s COCO weights)', () => {
    expect(toConfig(inferArchitecture(shapesFor({ numClasses: 21 })).spec).backbone.frozenBnEps).toBe(1e-5);
    expect(toConfig(inferArchitecture(shapesFor({})).spec).backbone.frozenBnEps).toBe(0);
  });

  it('refuses, saying what the file looks like: an ImageNet classifier, a Faster R-CNN, a MobileNet, an empty file', () => {
    const classifier = new Map([['conv1.weight', [64, 3, 7, 7]], ['bn1.weight', [64]], ['fc.weight', [1000, 512]], ['fc.bias', [1000]]]);
    expect(() => inferArchitecture(classifier)).toThrow(/checkpoint has no backbone\.body\.conv1\.weight: this looks like an ImageNet ResNet classifier/);
    const faster = without(shapesFor(TINY), (n) => n.startsWith('roi_heads.mask_'));
    expect(() => inferArchitecture(faster)).toThrow(/no roi_heads\.mask_head\.0\.0\.weight: this looks like a Faster R-CNN checkpoint \(no mask or keypoint branch\)/);
    const mobile = new Map([['backbone.body.features.0.0.weight', [16, 3, 3, 3]], ['roi_heads.box_head.fc6.weight', [1024, 12544]]]);
    expect(() => inferArchitecture(mobile)).toThrow(/MobileNet backbone; this site runs ResNet-FPN Mask R-CNN checkpoints only/);
    expect(() => inferArchitecture(new Map())).toThrow(/holds no tensors/);
  });

  it('refuses a ResNet with 2 2 3 2 blocks, 9 anchors per location, an fc6 that does not take C·s·s inputs, an FPN lateral that does not fit the stem', () => {
    const shapes = shapesFor(TINY);
    const extraBlock = new Map(shapes).set('backbone.body.layer3.2.conv1.weight', [32, 32, 3, 3]);
    expect(() => inferArchitecture(extraBlock)).toThrow(/ResNet has 2, 2, 3, 2 basic blocks per stage; expected torchvision's ResNet-18\/34/);
    const nineAnchors = new Map(shapes).set('rpn.head.cls_logits.weight', [9, 16, 1, 1]);
    expect(() => inferArchitecture(nineAnchors)).toThrow(/RPN predicts 9 anchors per location .*this site's anchors are torchvision's 3/);
    const fc6 = new Map(shapes).set('roi_heads.box_head.fc6.weight', [32, 16 * 50]);
    expect(() => inferArchitecture(fc6)).toThrow(/fc6 takes 800 inputs; expected C·s·s with C = 16 FPN channels/);
    const lateral = new Map(shapes).set('backbone.fpn.inner_blocks.0.0.weight', [16, 12, 1, 1]);
    expect(() => inferArchitecture(lateral)).toThrow(/first FPN lateral takes 12 channels, but its ResNet-18 stem of width 8 gives layer1 8/);
    expect(() => inferArchitecture(new Map(shapes).set('backbone.body.conv1.weight', [8, 3, 7]))).toThrow(/conv1\.weight of shape \[8, 3, 7\]; expected 4 dimensions/);
  });
});

describe('checkpointWeights and class names', () => {
  const tinyConfig = toConfig(TINY);
  const stateDict = randomStateDict(tinyConfig, 3);

  it('classNamesFor: the given list, COCO for 91, the scene classes for 7, else "class k"', () => {
    expect(classNamesFor(2, ['bg', 'thing'])).toEqual(['bg', 'thing']);
    expect(classNamesFor(91)).toBe(COCO_CATEGORIES);
    expect(classNamesFor(7)).toBe(SCENE_CLASSES);
    expect(classNamesFor(3)).toEqual(['__background__', 'class 1', 'class 2']);
  });

  it('a state dict no site model has the shapes of: the inferred spec, "class k" names, the architecture in label and description', () => {
    const w = checkpointWeights(stateDict, 'mine.pth');
    expect(shapeFields(w.spec)).toEqual(shapeFields(TINY));
    expect(toConfig(w.spec).transform.minSize).toBe(800);
    expect(w.info.id).toBe('file:mine.pth');
    expect(w.info.label).toBe('mine.pth (ResNet-18 (basic blocks, width 8), FPN 16, 5 classes, box head 32, mask head 2 × 16, FrozenBN eps 1e-5)');
    expect(w.info.classNames).toEqual(['__background__', 'class 1', 'class 2', 'class 3', 'class 4']);
    expect(w.info.description).toMatch(/^Converted in this browser from mine\.pth; nothing was uploaded\./);
  });

  it('a state dict with the shapes of a site model: that model\'s whole spec (input size too) and class names; a preset sets the eps', () => {
    const site: ModelIndexEntry = { id: 'tiny', manifest: 'models/tiny/model.json', totalBytes: 1, about: { label: 'Tiny', classNames: ['bg', 'a', 'b', 'c', 'd'] }, config: TINY };
    const other: ModelIndexEntry = { ...site, id: 'other', config: { ...TINY, numClasses: 4 } };
    const w = checkpointWeights(stateDict, 'tiny.pth', CHECKPOINT_PRESETS[0], [other, site]);
    expect(w.spec).toEqual(TINY);
    expect(w.info.label).toBe('tiny.pth (the architecture of Tiny)');
    expect(w.info.classNames).toEqual(['bg', 'a', 'b', 'c', 'd']);
    const eps0 = checkpointWeights(stateDict, 'tiny.pth', CHECKPOINT_PRESETS.find((p) => p.frozenBnEps === 0), [site]);
    expect(toConfig(eps0.spec).backbone.frozenBnEps).toBe(0);
    expect(toConfig(eps0.spec).transform.minSize).toBe(96);
  });

  it('refusals name the file: a Faster R-CNN state dict, a tensor of the wrong shape in an otherwise fine file', () => {
    const faster = new Map([...stateDict].filter(([n]) => !n.startsWith('roi_heads.mask_')));
    expect(() => checkpointWeights(faster, 'faster.pth')).toThrow(/^faster\.pth: checkpoint has no roi_heads\.mask_head\.0\.0\.weight: this looks like a Faster R-CNN/);
    const bad = new Map(stateDict);
    bad.set('backbone.body.layer2.0.conv2.weight', { ...stateDict.get('backbone.body.layer2.0.conv2.weight')!, shape: [16, 16, 3, 1] });
    expect(() => checkpointWeights(bad, 'bad.pth')).toThrow(/^bad\.pth: checkpoint has backbone\.body\.layer2\.0\.conv2\.weight of shape \[16, 16, 3, 1\]; this model expects \[16, 16, 3, 3\]/);
  });
});

describe.runIf(hasTorchvision())('a .pth written by torch from torchvision\'s modules (oracle torchvision_checkpoint.py)', () => {
  const config = toConfig(TINY);
  const original = randomStateDict(config, 5);
  let dir = '';
  let pth: Uint8Array;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infer-arch-'));
    writeFileSync(join(dir, 'in.safetensors'), writeSafetensors(original));
    const args = ['--weights', join(dir, 'in.safetensors'), '--out', join(dir, 'tiny.pth'), '--depth', '18', '--width', '8', '--fpn', '16', '--num-classes', '5', '--representation', '32', '--mask-layers', '16,16', '--dim-reduced', '16'];
    const report = JSON.parse(oracle('torchvision_checkpoint.py', args, 300_000)) as { tensors: number };
    expect(report.tensors).toBe(expectedShapes(config).size);
    pth = new Uint8Array(readFileSync(join(dir, 'tiny.pth')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loadCheckpoint(torch zip) → checkpointWeights matches the site model of the same shapes; the model runs to the same detections as the original weights (cpu)', async () => {
    const { format, stateDict } = loadCheckpoint(pth, 'tiny.pth');
    expect(format).toBe('torch-zip');
    const site: ModelIndexEntry = { id: 'tiny', manifest: 'models/tiny/model.json', totalBytes: 1, about: { label: 'Tiny' }, config: TINY };
    const w = checkpointWeights(stateDict, 'tiny.pth', undefined, [site]);
    expect(w.spec).toEqual(TINY);
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const image = randomImage(120, 90, 2);
    const a = createMaskRcnn(w.stateDict, w.spec);
    const b = createMaskRcnn(original, TINY);
    const [ta, tb] = [await runMaskRcnn(a, image), await runMaskRcnn(b, image)];
    expect(ta.result.labels.length).toBeGreaterThan(0);
    expect(Array.from(ta.result.labels)).toEqual(Array.from(tb.result.labels));
    expect(Array.from(ta.result.boxes)).toEqual(Array.from(tb.result.boxes));
    expect(Array.from(ta.result.scores)).toEqual(Array.from(tb.result.scores));
    for (const x of [ta, tb, a, b]) x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the same file cut in half is refused as truncated or corrupt, naming the file', () => {
    expect(() => loadCheckpoint(pth.subarray(0, pth.length >> 1), 'cut.pth')).toThrow(/^cut\.pth: .*(truncated|corrupt)/);
  });
});
