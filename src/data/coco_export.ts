/**
 * Synthetic scenes and figures as COCO datasets (the JSON part; browser-safe). Image id = seed, so a
 * dataset says by itself how to regenerate its images; annotation ids count from 1 in seed order;
 * masks are COCO RLE (compressed counts, pycocotools-compatible, src/io/rle.ts); bbox is the mask's
 * tight box [x, y, width, height]; area is the mask's pixel count; category id = label (index into
 * SCENE_CLASSES or FIGURE_CLASSES). Figures add COCO's person keypoints: per annotation `keypoints`
 * (flat [x, y, v] × K) and `num_keypoints` (v > 0), per category the keypoint names and the
 * 1-based `skeleton`.
 */
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoImage } from '../eval/coco_eval.ts';
import { encodeRle } from '../io/rle.ts';
import { FIGURE_CLASSES, type FiguresOptions, type FiguresScene, KEYPOINT_NAMES, SKELETON, numKeypoints } from './figures.ts';
import { SCENE_CLASSES, type Scene, type SceneOptions } from './scenes.ts';

export interface SceneCocoDataset extends CocoDataset {
  info: { description: string; seeds: number[]; options: SceneOptions };
}

export interface FiguresCocoDataset extends CocoDataset {
  info: { description: string; seeds: number[]; options: FiguresOptions };
}

/** The image file name of a seed's scene. */
export function sceneFileName(seed: number): string {
  return `scene_${String(seed).padStart(7, '0')}.png`;
}

/** The image file name of a seed's figures image. */
export function figuresFileName(seed: number): string {
  return `figures_${String(seed).padStart(7, '0')}.png`;
}

/** COCO categories of the scenes: ids 1 … 6, background excluded. */
export function sceneCategories(): CocoCategory[] {
  return SCENE_CLASSES.slice(1).map((name, i) => ({ id: i + 1, name, supercategory: 'shape' }));
}

/** The COCO category of the figures: person (id 1) with its keypoint names and 1-based skeleton. */
export function figuresCategories(): CocoCategory[] {
  return FIGURE_CLASSES.slice(1).map((name, i) => ({
    id: i + 1,
    name,
    supercategory: 'person',
    keypoints: [...KEYPOINT_NAMES],
    skeleton: SKELETON.map(([a, b]) => [a + 1, b + 1]),
  }));
}

/** What a COCO image record needs of a scene (a Scene or a FiguresScene). */
type SceneLike = Pick<Scene, 'seed' | 'image' | 'instances'>;

/** One scene as a COCO image record and its annotations (ids from `firstId`). */
export function sceneToCoco(scene: SceneLike, firstId = 1, fileName: (seed: number) => string = sceneFileName): { image: CocoImage; annotations: CocoAnnotation[] } {
  const { width, height } = scene.image;
  const annotations = scene.instances.map((inst, k): CocoAnnotation => {
    const [x1, y1, x2, y2] = inst.box;
    return {
      id: firstId + k,
      image_id: scene.seed,
      category_id: inst.label,
      segmentation: encodeRle(inst.mask, height, width),
      area: inst.area,
      bbox: [x1, y1, x2 - x1, y2 - y1],
      iscrowd: inst.iscrowd,
    };
  });
  return { image: { id: scene.seed, width, height, file_name: fileName(scene.seed) }, annotations };
}

/** One figures image as a COCO image record and its annotations with keypoints (ids from `firstId`). */
export function figuresSceneToCoco(scene: FiguresScene, firstId = 1): { image: CocoImage; annotations: CocoAnnotation[] } {
  const { image, annotations } = sceneToCoco(scene, firstId, figuresFileName);
  scene.instances.forEach((inst, k) => {
    annotations[k]!.keypoints = Array.from(inst.keypoints);
    annotations[k]!.num_keypoints = numKeypoints(inst.keypoints);
  });
  return { image, annotations };
}

/**
 * Assemble a COCO dataset image by image (`add` keeps only the RLE, so memory does not grow with
 * the pixels), recording the generator options in `info`.
 */
class CocoBuilder<S extends SceneLike, O> {
  private readonly images: CocoImage[] = [];
  private readonly annotations: CocoAnnotation[] = [];
  private readonly seeds = new Set<number>();
  constructor(
    private readonly options: O,
    private readonly toCoco: (scene: S, firstId: number) => { image: CocoImage; annotations: CocoAnnotation[] },
    private readonly categories: () => CocoCategory[],
    private readonly description: string,
  ) {}
  add(scene: S): void {
    if (this.seeds.has(scene.seed)) throw new Error(`scene seed ${scene.seed} appears twice; a COCO image id (= seed) must be unique`);
    this.seeds.add(scene.seed);
    const { image, annotations } = this.toCoco(scene, this.annotations.length + 1);
    this.images.push(image);
    this.annotations.push(...annotations);
  }
  build(): CocoDataset & { info: { description: string; seeds: number[]; options: O } } {
    return {
      info: { description: this.description, seeds: [...this.seeds], options: this.options },
      images: this.images,
      annotations: this.annotations,
      categories: this.categories(),
    };
  }
}

/** The scenes' COCO dataset, built scene by scene. */
export class SceneCocoBuilder extends CocoBuilder<Scene, SceneOptions> {
  constructor(options: SceneOptions = {}) {
    super(options, sceneToCoco, sceneCategories, 'Mask R-CNN Lab synthetic scenes (src/data/scenes.ts); image id = seed: generateScene(seed, info.options) regenerates each image exactly');
  }
}

/** The figures' COCO keypoint dataset, built image by image. */
export class FiguresCocoBuilder extends CocoBuilder<FiguresScene, FiguresOptions> {
  constructor(options: FiguresOptions = {}) {
    super(options, figuresSceneToCoco, figuresCategories, 'Mask R-CNN Lab synthetic figures (src/data/figures.ts), person keypoints; image id = seed: generateFigures(seed, info.options) regenerates each image exactly');
  }
}

/** Ground truth of the given scenes (generated with `options`, recorded in `info`). */
export function scenesToCoco(scenes: Iterable<Scene>, options: SceneOptions = {}): SceneCocoDataset {
  const builder = new SceneCocoBuilder(options);
  for (const scene of scenes) builder.add(scene);
  return builder.build();
}

/** Keypoint ground truth of the given figures images (generated with `options`, recorded in `info`). */
export function figuresToCoco(scenes: Iterable<FiguresScene>, options: FiguresOptions = {}): FiguresCocoDataset {
  const builder = new FiguresCocoBuilder(options);
  for (const scene of scenes) builder.add(scene);
  return builder.build();
}
