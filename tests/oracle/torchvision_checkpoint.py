#!/usr/bin/env python3
"""A torchvision-format Mask R-CNN checkpoint of any ResNet-FPN size, written by torch itself.

Run with /usr/bin/python3 (Debian's torch 1.13 + torchvision 0.14 + numpy).

  torchvision_checkpoint.py --weights IN.safetensors --out OUT.pth
        [--depth 18] [--width 64] [--fpn 256] [--num-classes 91] [--representation 1024]
        [--mask-layers 256,256,256,256] [--dim-reduced 256] [--legacy]

Builds the model out of torchvision's own modules: the ResNet body by `ResNet._make_layer`
(torchvision's BasicBlock/Bottleneck with FrozenBatchNorm2d; the stem and stage widths set to
`--width`·2^i, which torchvision's ResNet class fixes at 64), `BackboneWithFPN`, `MaskRCNN` with
`TwoMLPHead`, `FastRCNNPredictor`, `MaskRCNNHeads` and `MaskRCNNPredictor` of the given sizes. Loads
IN's tensors with `load_state_dict(strict=True)` — so every name and shape must be torchvision's —
and writes `model.state_dict()` with `torch.save` (zip format; `--legacy` for the pre-1.6 pickle).
Prints a JSON summary (tensors, parameters, bytes).

The test checkpoint of the site's picker (tests/site_e2e.test.ts) is the site's default model made
into such a file: small (a few MB) and a real torchvision state dict.
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
from torchvision.ops.misc import FrozenBatchNorm2d

RESNET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
NUMPY_DTYPE = {'F32': np.float32, 'F16': np.float16, 'F64': np.float64}


def fail(message):
    print(f'torchvision_checkpoint.py: {message}', file=sys.stderr)
    sys.exit(2)


def read_safetensors(path):
    """name → float32 tensor (the safetensors module is not installed here: u64 header length, JSON, data)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], 'little')
    header = json.loads(raw[8:8 + n])
    out = OrderedDict()
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        if entry['dtype'] not in NUMPY_DTYPE:
            fail(f'{path}: {name} has dtype {entry["dtype"]}; expected F32, F16 or F64')
        a, b = entry['data_offsets']
        array = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=NUMPY_DTYPE[entry['dtype']]).reshape(entry['shape'])
        out[name] = torch.from_numpy(array.astype(np.float32))
    return out


def resnet_body(depth, width):
    """torchvision's ResNet-`depth` with FrozenBatchNorm2d, its stem and stages `width`·2^i wide."""
    block = Bottleneck if depth >= 50 else BasicBlock
    body = ResNet(block, list(RESNET_BLOCKS[depth]), norm_layer=FrozenBatchNorm2d)
    if width != 64:
        body.inplanes = width
        body.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        body.bn1 = FrozenBatchNorm2d(width)
        for i, blocks in enumerate(RESNET_BLOCKS[depth]):
            setattr(body, f'layer{i + 1}', body._make_layer(block, width * 2 ** i, blocks, stride=1 if i == 0 else 2))
    return body, block.expansion


def build(args):
    if args.depth not in RESNET_BLOCKS:
        fail(f'--depth {args.depth}: expected one of {sorted(RESNET_BLOCKS)}')
    body, e = resnet_body(args.depth, args.width)
    in_channels = [args.width * 2 ** i * e for i in range(4)]
    backbone = BackboneWithFPN(body, {f'layer{i + 1}': str(i) for i in range(4)}, in_channels, args.fpn)
    mask_layers = [int(c) for c in args.mask_layers.split(',')]
    return MaskRCNN(
        backbone,
        num_classes=None,
        box_head=TwoMLPHead(args.fpn * 7 * 7, args.representation),
        box_predictor=FastRCNNPredictor(args.representation, args.num_classes),
        mask_head=MaskRCNNHeads(args.fpn, mask_layers, 1),
        mask_predictor=MaskRCNNPredictor(mask_layers[-1], args.dim_reduced, args.num_classes),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--weights', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--depth', type=int, default=50)
    p.add_argument('--width', type=int, default=64)
    p.add_argument('--fpn', type=int, default=256)
    p.add_argument('--num-classes', type=int, default=91)
    p.add_argument('--representation', type=int, default=1024)
    p.add_argument('--mask-layers', default='256,256,256,256')
    p.add_argument('--dim-reduced', type=int, default=256)
    p.add_argument('--legacy', action='store_true')
    args = p.parse_args()
    model = build(args)
    given = read_safetensors(args.weights)
    try:
        model.load_state_dict(given, strict=True)
    except RuntimeError as e:
        fail(f'{args.weights} does not load into torchvision\'s model of these sizes: {e}')
    sd = model.state_dict()
    torch.save(sd, args.out, _use_new_zipfile_serialization=not args.legacy)
    print(json.dumps({
        'tensors': len(sd),
        'parameters': int(sum(t.numel() for t in sd.values())),
        'bytes': os.path.getsize(args.out),
        'first': list(sd)[:3],
    }))


if __name__ == '__main__':
    main()
