#!/usr/bin/env python3
"""Export torchvision Mask R-CNN (v1) to ONNX for the onnxruntime column of `npm run bench`.

Run with /usr/bin/python3 (Debian's torch 1.13 + torchvision 0.14; the `onnx` Python package is
not needed: torch serializes the graph itself).

  export_onnx.py --weights FILE --image FILE --out FILE.onnx [--min-size 800] [--opset 11]

Builds the model as tests/oracle/model.py does (same architecture, FrozenBN, state dict), eval
mode, and exports `model([image])` with `torch.onnx.export` (tracing, as torchvision's own ONNX
tests do): input `image` (3×H×W float32 in [0, 1], H and W dynamic), outputs `boxes` (D×4,
original-image pixels), `labels` (D, int64), `scores` (D), `masks` (D×1×H×W probabilities).
The whole pipeline is in the graph: normalize, resize to `min_size`, RPN, NMS, RoIAlign, paste.

Exports with torch's stock kernels (model.py's oneDNN nn.Linear is not traceable to ONNX), so the
tracing forward is slow on Debian's reference BLAS (fc6 ≈ 15 s); the result is cached by the bench.
Prints one JSON line: {"event": "done", "out", "opset", "min_size", "seconds", "bytes", "torch"}.
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model as oracle  # noqa: E402  (tests/oracle/model.py)


@torch.no_grad()
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--weights', required=True)
    p.add_argument('--image', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--min-size', type=int, default=800)
    p.add_argument('--opset', type=int, default=11)
    args = p.parse_args(argv)
    if args.opset < 11:
        oracle.fail(f'--opset {args.opset}: Mask R-CNN needs opset 11 or later (RoiAlign, NonMaxSuppression, Resize)')
    t0 = time.perf_counter()
    sd = oracle.load_state_dict(args.weights)
    depth, num_classes = oracle.infer_architecture(sd)
    model = oracle.build_model(depth, num_classes, min_size=args.min_size)
    model.load_state_dict(sd)
    model.eval()
    image = oracle.read_image(args.image)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.part'
    torch.onnx.export(
        model, ([image],), tmp, opset_version=args.opset, do_constant_folding=True,
        input_names=['image'], output_names=['boxes', 'labels', 'scores', 'masks'],
        dynamic_axes={'image': [1, 2], 'boxes': [0, 1], 'labels': [0], 'scores': [0], 'masks': [0, 1, 2, 3]},
    )
    os.replace(tmp, args.out)  # a cached file is always a complete export
    print(json.dumps({'event': 'done', 'out': args.out, 'opset': args.opset, 'min_size': args.min_size,
                      'seconds': time.perf_counter() - t0, 'bytes': os.path.getsize(args.out),
                      'torch': torch.__version__}))


if __name__ == '__main__':
    main()
