import { describe, expect, it } from 'vitest';
import { COCO_CATEGORIES } from '../src/coco.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

describe('COCO_CATEGORIES', () => {
  it('COCO_CATEGORIES has 91 entries: background, 80 classes, and N/A at the 10 unused COCO ids', () => {
    expect(COCO_CATEGORIES.length).toBe(91);
    expect(COCO_CATEGORIES[0]).toBe('__background__');
    expect(COCO_CATEGORIES[1]).toBe('person');
    expect(COCO_CATEGORIES[90]).toBe('toothbrush');
    const unused = COCO_CATEGORIES.flatMap((n, i) => (n === 'N/A' ? [i] : []));
    expect(unused).toEqual([12, 26, 29, 30, 45, 66, 68, 69, 71, 83]);
    expect(new Set(COCO_CATEGORIES.filter((n) => n !== 'N/A' && n !== '__background__')).size).toBe(80);
  });

  it('COCO_CATEGORIES is frozen', () => {
    expect(Object.isFrozen(COCO_CATEGORIES)).toBe(true);
  });

  it.runIf(hasTorchvision())('COCO_CATEGORIES equals torchvision.models._meta._COCO_CATEGORIES', () => {
    expect(JSON.parse(oracle('transform_paste.py', ['coco']))).toEqual([...COCO_CATEGORIES]);
  });
});
