"""torchvision oracle for the transform stage, resize_boxes, paste_masks_in_image, image decoding (PIL)
and the COCO category list. Calls torchvision / PIL; reimplements nothing.

  sizes <json [[h, w, min, max], ...]>   GeneralizedRCNNTransform.resize output size and the
                                         scale_factor it passes to F.interpolate  → JSON on stdout
  transform <dir> <min> <max> <div>      <dir>/image.npy (H×W×3 uint8) → <dir>/input.npy (3×Hp×Wp),
                                         JSON {image_size, scale} on stdout
  resize_boxes <dir> <h> <w> <H> <W>     <dir>/boxes.npy (N×4) → <dir>/resized.npy
  paste <dir> <H> <W>                    <dir>/masks.npy (D×M×M), <dir>/boxes.npy (D×4) →
                                         <dir>/pasted.npy (D×H×W)
  decode <file> <out.npy>                PIL Image.open(file).convert('RGB') → H×W×3 uint8
  raw <file> <out.npy>                   PIL Image.open(file) samples as stored (e.g. 16-bit) → int64
  coco                                   torchvision's _COCO_CATEGORIES as JSON
  batch <jobs.json>                      run a JSON list of [command, args...] in one process (torch
                                         imports once); prints a JSON list of their outputs
"""
import json
import sys

import numpy as np


def captured_interpolate_scale(fn):
    """Run fn() and return (result, scale_factor passed to F.interpolate)."""
    import torch.nn.functional as F

    seen = []
    real = F.interpolate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("scale_factor"))
        return real(*args, **kwargs)

    F.interpolate = spy
    try:
        out = fn()
    finally:
        F.interpolate = real
    return out, seen[0] if seen else None


def make_transform(min_size, max_size, size_divisible=32):
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    t = GeneralizedRCNNTransform(min_size, max_size, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], size_divisible)
    return t.eval()


def run(argv):
    """One command; returns what it prints (JSON or '')."""
    cmd = argv[0]
    if cmd == "sizes":
        import torch

        out = []
        for h, w, mn, mx in json.loads(argv[1]):
            t = make_transform(mn, mx)
            img = torch.zeros(3, 1, 1).expand(3, h, w)  # no memory for the input, only the output
            (resized, _), scale = captured_interpolate_scale(lambda: t.resize(img))
            out.append({"size": list(resized.shape[-2:]), "scale": scale})
        return json.dumps(out)
    elif cmd == "transform":
        import torch

        d, mn, mx, div = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        image = np.load(f"{d}/image.npy")
        x = torch.from_numpy(image).permute(2, 0, 1).contiguous().float().div(255)  # = to_tensor
        t = make_transform(mn, mx, div)
        with torch.no_grad():
            (images, _), scale = captured_interpolate_scale(lambda: t([x]))
        np.save(f"{d}/input.npy", images.tensors[0].numpy().astype(np.float32))
        return json.dumps({"image_size": list(images.image_sizes[0]), "scale": scale})
    elif cmd == "resize_boxes":
        import torch
        from torchvision.models.detection.transform import resize_boxes

        d = argv[1]
        h, w, H, W = (int(v) for v in argv[2:6])
        boxes = torch.from_numpy(np.load(f"{d}/boxes.npy"))
        np.save(f"{d}/resized.npy", resize_boxes(boxes, [h, w], [H, W]).numpy())
    elif cmd == "paste":
        import torch
        from torchvision.models.detection.roi_heads import paste_masks_in_image

        d, H, W = argv[1], int(argv[2]), int(argv[3])
        masks = torch.from_numpy(np.load(f"{d}/masks.npy"))
        boxes = torch.from_numpy(np.load(f"{d}/boxes.npy"))
        pasted = paste_masks_in_image(masks[:, None], boxes, (H, W))  # D×1×H×W
        np.save(f"{d}/pasted.npy", pasted[:, 0].numpy().astype(np.float32))
    elif cmd == "decode":
        from PIL import Image

        with Image.open(argv[1]) as im:
            mode = im.mode
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        np.save(argv[2], rgb)
        return json.dumps({"mode": mode})
    elif cmd == "raw":
        from PIL import Image

        with Image.open(argv[1]) as im:
            mode = im.mode
            np.save(argv[2], np.asarray(im).astype(np.int64))
        return json.dumps({"mode": mode})
    elif cmd == "coco":
        from torchvision.models import _meta

        return json.dumps(_meta._COCO_CATEGORIES)
    elif cmd == "batch":
        with open(argv[1]) as f:
            jobs = json.load(f)
        return json.dumps([json.loads(r) if r else None for r in (run(job) for job in jobs)])
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    return ""


if __name__ == "__main__":
    print(run(sys.argv[1:]))
