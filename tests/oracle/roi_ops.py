"""RoI pooling oracle for tests/kernels_parity.test.ts (run with /usr/bin/python3: torch 1.13, torchvision 0.14).

  roi_ops.py DIR    reads DIR/cases.json and the .npy inputs it names, runs torchvision, writes the
                    outputs as DIR/out_<name>.npy (NHWC, like the TypeScript ops)

cases.json: {"cases": [...]}, each case one of
  {"name", "op": "roi_align", "x": "x.npy" (NHWC [N,H,W,C]), "rois": "rois.npy" ([K,5]),
   "output_size": [h, w], "spatial_scale", "sampling_ratio", "aligned"}
  {"name", "op": "roi_pool", "x", "rois", "output_size", "spatial_scale"}
  {"name", "op": "multi_scale_roi_align", "levels": ["p0.npy", ...] (NHWC [1,Hl,Wl,C]),
   "boxes": "boxes.npy" ([K,4]), "image_size": [h, w], "output_size", "sampling_ratio"}
    → also writes DIR/levels_<name>.npy (int64, torchvision's LevelMapper) and
      DIR/scales_<name>.npy (float32, torchvision's inferred scales)
Only torchvision computes here; this script just moves data between layouts.
"""
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align, roi_pool


def nchw(path):
    # NHWC file → NCHW tensor
    return torch.from_numpy(np.load(path)).permute(0, 3, 1, 2).contiguous()


def save_nhwc(path, t):
    # NCHW tensor → NHWC file
    np.save(path, t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32))


def main(d):
    with open(os.path.join(d, "cases.json")) as f:
        cases = json.load(f)["cases"]
    torch.set_num_threads(1)
    for c in cases:
        name, op = c["name"], c["op"]
        if op == "roi_align":
            x = nchw(os.path.join(d, c["x"]))
            rois = torch.from_numpy(np.load(os.path.join(d, c["rois"])))
            out = roi_align(x, rois, tuple(c["output_size"]), c["spatial_scale"], c["sampling_ratio"], c["aligned"])
        elif op == "roi_pool":
            x = nchw(os.path.join(d, c["x"]))
            rois = torch.from_numpy(np.load(os.path.join(d, c["rois"])))
            out = roi_pool(x, rois, tuple(c["output_size"]), c["spatial_scale"])
        elif op == "multi_scale_roi_align":
            names = [str(i) for i in range(len(c["levels"]))]
            feats = OrderedDict((n, nchw(os.path.join(d, p))) for n, p in zip(names, c["levels"]))
            boxes = torch.from_numpy(np.load(os.path.join(d, c["boxes"])))
            pooler = MultiScaleRoIAlign(names, tuple(c["output_size"]), c["sampling_ratio"])
            out = pooler(feats, [boxes], [tuple(c["image_size"])])
            np.save(os.path.join(d, f"levels_{name}.npy"), pooler.map_levels([boxes]).numpy().astype(np.int64))
            np.save(os.path.join(d, f"scales_{name}.npy"), np.array(pooler.scales, dtype=np.float32))
        else:
            raise SystemExit(f"roi_ops.py: unknown op {op!r} in case {name!r}")
        save_nhwc(os.path.join(d, f"out_{name}.npy"), out)
    print(json.dumps({"torch": torch.__version__, "cases": len(cases)}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
