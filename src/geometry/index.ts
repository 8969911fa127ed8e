/** Geometry of Mask R-CNN: pure, float32-faithful functions on plain arrays (no tfjs). */
export { BoxCoder, boxArea, boxCount, clipBoxes, gather, gatherBoxes, iou, iouWithAreas, removeSmallBoxes } from './boxes.ts';
export { baseAnchors, gridAnchors, type GridAnchors } from './anchors.ts';
export { inferScale, levelRange, mapLevels, type LevelMapperConfig } from './levels.ts';
export { batchedNms, nms, nmsSteps, type NmsTrace } from './nms.ts';
export { filterProposals, type ProposalConfig, type ProposalResult, type ScoredBoxes } from './proposals.ts';
export { postprocessDetections, type DetectionConfig, type DetectionResult, type LabeledBoxes } from './detections.ts';
export { expf, f32, fmaf, roundHalfEven, sigmoidf, sigmoidf32, softmaxRowsf32 } from './float32.ts';
export { argsortDescending, argsortDescendingStable, topkIndices } from './stdsort.ts';
