/**
 * The 91 COCO category names in torchvision's label order (`torchvision.models._meta._COCO_CATEGORIES`,
 * used by `maskrcnn_resnet50_fpn`'s COCO weights): index = label. Index 0 is the background; the 10
 * 'N/A' entries are COCO ids that have no category (COCO numbers 80 classes from 1 to 90 with gaps).
 */
export const COCO_CATEGORIES: readonly string[] = Object.freeze([
  '__background__', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck',
  'boat', 'traffic light', 'fire hydrant', 'N/A', 'stop sign', 'parking meter', 'bench', 'bird',
  'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'N/A', 'backpack',
  'umbrella', 'N/A', 'N/A', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard',
  'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
  'tennis racket', 'bottle', 'N/A', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl',
  'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
  'cake', 'chair', 'couch', 'potted plant', 'bed', 'N/A', 'dining table', 'N/A', 'N/A', 'toilet',
  'N/A', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'N/A', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
  'hair drier', 'toothbrush',
]);

/** torchvision's `_COCO_PERSON_CATEGORIES` (keypointrcnn_resnet50_fpn's two classes). */
export const COCO_PERSON_CATEGORIES: readonly string[] = Object.freeze(['__background__', 'person']);

/** The 17 COCO person keypoints in torchvision's order (`_COCO_PERSON_KEYPOINT_NAMES`): index = keypoint. */
export const COCO_PERSON_KEYPOINT_NAMES: readonly string[] = Object.freeze([
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
  'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
  'right_ankle',
]);
