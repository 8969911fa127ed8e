/**
 * Synthetic scenes as a COCO dataset (the JSON part; browser-safe). Image id = seed, so a dataset
 * says by itself how to regenerate its images; annotation ids count from 1 in seed order; masks are
 * COCO RLE (compressed counts, pycocotools-compatible, src/io/rle.ts); bbox is the mask's tight box
 * [x, y, width, height]; area is the mask's pixel count; category id = label (SCENE_CLASSES index).
 */
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoImage } from '../eval/coco_eval.ts';
import { encodeRle } from '../io/rle.ts';
import { SCENE_CLASSES, type Scene, type SceneOptions } from './scenes.ts';

export interface SceneCocoDataset extends CocoDataset {
  info: { description: string; seeds: number[]; options: SceneOptions };
}

/** The image file name of a seed's scene. */
export function sceneFileName(seed: number): string {
  return `scene_${String(seed).padStart(7, '0')}.png`;
}

/** COCO categories of the scenes: ids 1 … 6, background excluded. */
export function sceneCategories(): CocoCategory[] {
  return SCENE_CLASSES.slice(1).map((name, i) => ({ id: i + 1, name, supercategory: 'shape' }));
}

/** One scene as a COCO image record and its annotations (ids from `firstId`). */
export function sceneToCoco(scene: Scene, firstId = 1): { image: CocoImage; annotations: CocoAnnotation[] } {
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
  return { image: { id: scene.seed, width, height, file_name: sceneFileName(scene.seed) }, annotations };
}

/**
 * Assemble a COCO dataset scene by scene (`add` keeps only the RLE, so memory does not grow with
 * the pixels), recording the generator options in `info`.
 */
export class SceneCocoBuilder {
  private readonly images: CocoImage[] = [];
  private readonly annotations: CocoAnnotation[] = [];
  private readonly seeds = new Set<number>();
  constructor(private readonly options: SceneOptions = {}) {}
  add(scene: Scene): void {
    if (this.seeds.has(scene.seed)) throw new Error(`scene seed ${scene.seed} appears twice; a COCO image id (= seed) must be unique`);
    this.seeds.add(scene.seed);
    const { image, annotations } = sceneToCoco(scene, this.annotations.length + 1);
    this.images.push(image);
    this.annotations.push(...annotations);
  }
  build(): SceneCocoDataset {
    return {
      info: {
        description: 'Mask R-CNN Lab synthetic scenes (src/data/scenes.ts); image id = seed: generateScene(seed, info.options) regenerates each image exactly',
        seeds: [...this.seeds],
        options: this.options,
      },
      images: this.images,
      annotations: this.annotations,
      categories: sceneCategories(),
    };
  }
}

/** Ground truth of the given scenes (generated with `options`, recorded in `info`). */
export function scenesToCoco(scenes: Iterable<Scene>, options: SceneOptions = {}): SceneCocoDataset {
  const builder = new SceneCocoBuilder(options);
  for (const scene of scenes) builder.add(scene);
  return builder.build();
}
