#!/usr/bin/env python3
"""torchvision oracle for src/geometry: seeded random cases, run through torchvision, saved as .npy.

  geometry_cases.py DIR [SEED]

Writes DIR/<case>__<name>.npy (inputs and torchvision's outputs) and prints one JSON line:
{"cases": {case: {"kind": ..., params}}, "capability": "AVX2"}. Index outputs are int64, boxes and
scores float32. Head outputs are given NHWC-flattened, as our engine produces them.

Cases are small (seconds in all) but hit the branches that decide results: near-duplicate boxes,
IoU close to the threshold, equal scores (saturated sigmoid, repeated logits), both batched_nms
paths (coordinate trick ≤ 1000 boxes, per-class loop above), both topk paths (partial_sort when
k·64 ≤ n, nth_element otherwise), the exp clamp of the box coder, level-mapper boundaries.
"""
import json
import math
import os
import re
import sys

import numpy as np
import torch
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, concat_box_prediction_layers
from torchvision.ops import batched_nms, nms
from torchvision.ops.poolers import LevelMapper, _infer_scale

OUT = sys.argv[1]
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 0
rng = np.random.RandomState(SEED)
torch.set_num_threads(1)
cases = {}


def save(case, name, array):
    a = array.detach().cpu().numpy() if torch.is_tensor(array) else np.asarray(array)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    np.save(os.path.join(OUT, f'{case}__{name}.npy'), np.ascontiguousarray(a))


def random_boxes(n, width, height, dup_fraction=0.5, jitter=1.5):
    """Boxes in an image; a fraction are near-duplicates (a few px of jitter) of earlier ones."""
    x1 = rng.uniform(-10, width - 4, n)
    y1 = rng.uniform(-10, height - 4, n)
    w = np.exp(rng.uniform(math.log(2), math.log(width / 1.5), n))
    h = w * np.exp(rng.normal(0, 0.5, n))
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1)
    for i in range(1, n):
        if rng.rand() < dup_fraction:
            boxes[i] = boxes[rng.randint(0, i)] + rng.normal(0, jitter, 4)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
    return boxes.astype(np.float32)


def scores_for(n, ties):
    s = rng.uniform(0.05, 1, n).astype(np.float32)
    if ties:  # a few distinct values only: the unstable sort decides the order
        s = np.round(s * 8).astype(np.float32) / np.float32(8)
    return s


# --- nms -------------------------------------------------------------------------------------
for name, n, thr, ties in [('nms_a', 300, 0.5, False), ('nms_b', 300, 0.7, True), ('nms_c', 40, 0.3, True)]:
    b = random_boxes(n, 200, 150)
    s = scores_for(n, ties)
    save(name, 'boxes', b)
    save(name, 'scores', s)
    save(name, 'keep', nms(torch.from_numpy(b), torch.from_numpy(s), thr))
    cases[name] = {'kind': 'nms', 'iouThreshold': thr}

# --- batched_nms: coordinate trick (≤ 1000 boxes) and per-group loop (> 1000) ----------------------
for name, n, groups, thr, ties in [('bnms_trick', 800, 5, 0.7, True), ('bnms_loop', 1600, 7, 0.5, True), ('bnms_loop_distinct', 1200, 3, 0.6, False)]:
    b = random_boxes(n, 300, 200, dup_fraction=0.7)
    s = scores_for(n, ties)
    g = rng.randint(0, groups, n).astype(np.int64)
    save(name, 'boxes', b)
    save(name, 'scores', s)
    save(name, 'groups', g)
    save(name, 'keep', batched_nms(torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(g), thr))
    cases[name] = {'kind': 'batchedNms', 'iouThreshold': thr}

# --- anchors ----------------------------------------------------------------------------------
for name, padded, feats, sizes, ratios in [
    ('anchors_fpn', (96, 128), [(24, 32), (12, 16), (6, 8), (3, 4), (2, 2)], ((32,), (64,), (128,), (256,), (512,)), (0.5, 1.0, 2.0)),
    ('anchors_odd', (100, 130), [(25, 33), (13, 17)], ((5, 11, 23), (45, 91)), (0.3, 0.7, 1.0, 1.9)),
]:
    gen = AnchorGenerator(sizes, (ratios,) * len(sizes))
    images = ImageList(torch.zeros(1, 3, *padded), [padded])
    fmaps = [torch.zeros(1, 1, h, w) for h, w in feats]
    anchors = gen(images, fmaps)[0]
    counts = [h * w * len(sizes[l]) * len(ratios) for l, (h, w) in enumerate(feats)]
    for l, a in enumerate(anchors.split(counts)):
        save(name, f'anchors_{l}', a)
    cases[name] = {'kind': 'anchors', 'padded': padded, 'features': feats, 'sizes': sizes, 'aspectRatios': ratios}

# --- box coder decode -------------------------------------------------------------------------
for name, weights, n, k in [('decode_rpn', (1.0, 1.0, 1.0, 1.0), 3000, 1), ('decode_head', (10.0, 10.0, 5.0, 5.0), 400, 7)]:
    ref = random_boxes(n, 800, 600, dup_fraction=0.2)
    deltas = (rng.normal(0, 1, (n, 4 * k)) * np.array(weights * k) * 0.5).astype(np.float32)
    big = rng.rand(n, k) < 0.05  # hit the exp clamp
    deltas.reshape(n, k, 4)[big, 2] = rng.uniform(3, 30, big.sum()) * weights[2]
    coder = det_utils.BoxCoder(weights)
    out = coder.decode(torch.from_numpy(deltas), [torch.from_numpy(ref)])
    save(name, 'deltas', deltas)
    save(name, 'ref', ref)
    save(name, 'boxes', out.reshape(n, k * 4))
    cases[name] = {'kind': 'decode', 'weights': weights, 'classes': k}

# --- level mapper + infer scale -----------------------------------------------------------------
side = np.concatenate([
    224 * 2.0 ** np.arange(-4, 4),  # exact boundaries
    224 * 2.0 ** np.arange(-4, 4) * (1 - 3e-7),  # just below: the eps decides
    224 * 2.0 ** np.arange(-4, 4) * (1 - 3e-6),  # further below: level k − 1
    np.exp(rng.uniform(math.log(4), math.log(3000), 500)),
])
aspect = np.concatenate([np.ones(24), np.exp(rng.normal(0, 0.6, 500))])
x1 = rng.uniform(0, 100, side.size)
y1 = rng.uniform(0, 100, side.size)
lm_boxes = np.stack([x1, y1, x1 + side * np.sqrt(aspect), y1 + side / np.sqrt(aspect)], 1).astype(np.float32)
lm_boxes[:24] = np.stack([np.zeros(24), np.zeros(24), side[:24], side[:24]], 1).astype(np.float32)
save('levels', 'boxes', lm_boxes)
save('levels', 'levels', LevelMapper(2, 5)([torch.from_numpy(lm_boxes)]))
scale_pairs = [((200, 336), (800, 1333)), ((100, 168), (800, 1333)), ((50, 84), (797, 1333)), ((13, 21), (800, 1333)), ((25, 25), (401, 399))]
cases['levels'] = {'kind': 'levels', 'scales': [[list(f), list(i), _infer_scale(torch.zeros(1, 1, *f), list(i))] for f, i in scale_pairs]}

# --- RPN: decode + filter_proposals -------------------------------------------------------------
for name, padded, image, feats, pre, post, nms_t, score_t, min_size, quantize in [
    ('rpn_a', (128, 160), (120, 150), [(32, 40), (16, 20), (8, 10), (4, 5), (2, 3)], 50, 200, 0.7, 0.0, 1e-3, False),
    ('rpn_b', (128, 160), (128, 131), [(32, 40), (16, 20), (8, 10), (4, 5), (2, 3)], 1000, 1000, 0.7, 0.0, 1e-3, True),
    ('rpn_c', (96, 96), (90, 96), [(24, 24), (12, 12), (6, 6), (3, 3), (2, 2)], 300, 150, 0.5, 0.6, 3.0, True),
]:
    sizes = ((32,), (64,), (128,), (256,), (512,))
    gen = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
    A = 3
    images = ImageList(torch.zeros(1, 3, *padded), [image])
    fmaps = [torch.zeros(1, 1, h, w) for h, w in feats]
    anchors = gen(images, fmaps)
    objectness, deltas = [], []
    for h, w in feats:
        o = rng.normal(-2, 4, (1, A, h, w))
        o[rng.rand(*o.shape) < 0.03] = rng.uniform(17, 25)  # sigmoid saturates to 1.0: ties
        if quantize:
            o = np.round(o * 4) / 4  # repeated logits: topk ties
        objectness.append(torch.from_numpy(o.astype(np.float32)))
        d = rng.normal(0, 0.3, (1, 4 * A, h, w))
        d[rng.rand(*d.shape) < 0.01] = 9.0  # exp clamp
        deltas.append(torch.from_numpy(d.astype(np.float32)))
    rpn = RegionProposalNetwork(gen, None, 0.7, 0.3, 256, 0.5, dict(training=pre, testing=pre), dict(training=post, testing=post), nms_t, score_thresh=score_t)
    rpn.min_size = min_size
    rpn.eval()
    num_per_level = [o[0].numel() for o in objectness]
    obj_flat, deltas_flat = concat_box_prediction_layers(objectness, deltas)
    proposals = rpn.box_coder.decode(deltas_flat.detach(), anchors).view(1, -1, 4)
    boxes, scores = rpn.filter_proposals(proposals, obj_flat, images.image_sizes, num_per_level)
    for l in range(5):
        # (1, A, H, W) → (H, W, A) and (1, 4A, H, W) → (H, W, 4A) = (H, W, A, 4), as NHWC flattens
        save(name, f'objectness_{l}', objectness[l][0].permute(1, 2, 0).reshape(-1))
        save(name, f'deltas_{l}', deltas[l][0].permute(1, 2, 0).reshape(-1))
    save(name, 'boxes', boxes[0])
    save(name, 'scores', scores[0])
    cases[name] = {'kind': 'rpn', 'padded': padded, 'image': image, 'features': feats, 'preNmsTopN': pre, 'postNmsTopN': post, 'nmsThresh': nms_t, 'scoreThresh': score_t, 'minSize': min_size}

# --- RoIHeads.postprocess_detections --------------------------------------------------------------
for name, n, k, image, logit_std, dup in [('det_a', 300, 11, (200, 300), 3.0, 0.6), ('det_b', 1000, 91, (480, 640), 4.0, 0.5), ('det_ties', 200, 5, (100, 120), 2.0, 0.8)]:
    proposals = random_boxes(n, image[1], image[0], dup_fraction=dup)
    proposals[:, 0::2] = np.clip(proposals[:, 0::2], 0, image[1])
    proposals[:, 1::2] = np.clip(proposals[:, 1::2], 0, image[0])
    logits = rng.normal(0, logit_std, (n, k)).astype(np.float32)
    logits[:, 0] += 1.0
    reg = (rng.normal(0, 1, (n, 4 * k)) * np.array((10.0, 10.0, 5.0, 5.0) * k) * 0.05).astype(np.float32)
    if name == 'det_ties':  # identical logits on near-duplicate boxes: equal scores meet in NMS
        logits = np.round(logits).astype(np.float32)
        logits[1::2] = logits[0::2]
        reg[1::2] = reg[0::2]
    heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, (10.0, 10.0, 5.0, 5.0), 0.05, 0.5, 100)
    boxes, scores, labels = heads.postprocess_detections(torch.from_numpy(logits), torch.from_numpy(reg), [torch.from_numpy(proposals)], [image])
    save(name, 'logits', logits)
    save(name, 'regression', reg)
    save(name, 'proposals', proposals)
    save(name, 'boxes', boxes[0])
    save(name, 'scores', scores[0])
    save(name, 'labels', labels[0])
    cases[name] = {'kind': 'detections', 'image': image, 'classes': k}

# --- float32 primitives: exp, sigmoid, softmax ---------------------------------------------------
x = np.concatenate([rng.uniform(-30, 30, 20000), rng.normal(0, 3, 20003)]).astype(np.float32)
save('float32', 'x', x)
save('float32', 'exp', torch.exp(torch.from_numpy(x)))
save('float32', 'sigmoid', torch.sigmoid(torch.from_numpy(x)))
for k in (3, 8, 13, 91):
    logits = (rng.normal(0, 4, (500, k))).astype(np.float32)
    save('float32', f'logits_{k}', logits)
    save('float32', f'softmax_{k}', torch.softmax(torch.from_numpy(logits), -1))
cases['float32'] = {'kind': 'float32', 'softmaxDims': [3, 8, 13, 91]}

capability = re.search(r'CPU capability usage: (\w+)', torch.__config__.show())
print(json.dumps({'cases': cases, 'capability': capability.group(1) if capability else None}))
