"""Checkpoint oracle for tests/weights_parity.test.ts (run with /usr/bin/python3: torch 1.13, torchvision 0.14).

  checkpoints.py write DIR        small state dicts in every format torch writes + malicious pickles;
                                  DIR/expected.json holds the values torch itself reads back
  checkpoints.py torch-load FILE  torch.load(FILE) in full-pickle mode (proves a malicious file is real)
  checkpoints.py model-keys       JSON: torchvision's own state_dict names/shapes, and the old-spelling
                                  names torchvision still accepts, with where it puts each one
"""
import argparse
import json
import os
import re
import sys
from collections import OrderedDict

import torch
import torchvision
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops.misc import FrozenBatchNorm2d

SAFETENSORS_TAG = {
    torch.float32: "F32", torch.float16: "F16", torch.float64: "F64", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL",
}
DTYPE_NAME = {
    torch.float32: "float32", torch.float16: "float16", torch.float64: "float64", torch.bfloat16: "bfloat16",
    torch.int64: "int64", torch.int32: "int32", torch.uint8: "uint8", torch.bool: "bool",
}


def write_safetensors(path, sd):
    """The safetensors layout, written by hand (the safetensors module is not installed here)."""
    header, chunks, offset = {}, [], 0
    for name, t in sd.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_TAG[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for c in chunks:
            f.write(c)


def small_state_dict():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    sd = OrderedDict()
    sd["a.weight"] = torch.randn(2, 3, 4, generator=g)
    # float16 incl. a subnormal, the largest half and a negative zero
    sd["b.half"] = torch.cat([torch.randn(5, generator=g) * 3, torch.tensor([6e-8, 65504.0, -0.0])]).half()
    sd["c.double"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    sd["d.transposed"] = torch.randn(3, 5, generator=g).t()  # non-contiguous: shape (5, 3), strides (1, 5)
    sd["e.base"] = base
    sd["e.slice"] = base[1:, ::2]  # shares e.base's storage: offset 6, strides (6, 2)
    sd["f.long"] = torch.tensor([-3, 0, 2 ** 40])
    sd["g.scalar"] = torch.tensor(2.5)
    sd["h.bfloat16"] = torch.randn(3, generator=g).bfloat16()
    sd["i.param"] = torch.nn.Parameter(torch.randn(2, generator=g))
    sd["bn.num_batches_tracked"] = torch.tensor(7)
    return sd


def evil(command):
    class Evil:
        def __reduce__(self):
            return (os.system, (command,))
    return Evil()


def evil_eval(code):
    class EvilEval:
        def __reduce__(self):
            return (eval, (code,))
    return EvilEval()


def reduce_globals(pickle_bytes):
    """(module.name) of every global a pickle names, in order (GLOBAL and STACK_GLOBAL), and whether REDUCE follows."""
    import pickletools
    names, strings, reduce_after = [], [], False
    for op, arg, _ in pickletools.genops(pickle_bytes):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "GLOBAL":
            names.append(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.append(f"{strings[-2]}.{strings[-1]}")
        elif op.name == "REDUCE" and names and names[-1] in ("posix.system", "nt.system", "builtins.eval", "__builtin__.eval"):
            reduce_after = True
    return names, reduce_after


def data_pkl(path):
    import zipfile
    with zipfile.ZipFile(path) as z:
        return z.read([n for n in z.namelist() if n.endswith("data.pkl")][0])


def tiny_model():
    """A Mask R-CNN with torchvision's module names and small heads: ResNet-18 body (FrozenBN), FPN 16."""
    body = resnet_fpn_backbone(backbone_name="resnet18", weights=None).body
    backbone = BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, [64, 128, 256, 512], 16)
    torch.manual_seed(0)
    model = MaskRCNN(
        backbone, num_classes=None,
        rpn_head=RPNHead(16, 3),
        box_head=TwoMLPHead(16 * 7 * 7, 32), box_predictor=FastRCNNPredictor(32, 7),
        mask_head=MaskRCNNHeads(16, [16, 16], 1), mask_predictor=MaskRCNNPredictor(16, 16, 7),
    )
    # Non-trivial FrozenBN buffers.
    for m in model.modules():
        if isinstance(m, FrozenBatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model


OLD_SPELLING = [
    (r"^backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.0\.(weight|bias)$", lambda m: f"backbone.fpn.{m[1]}.{m[2]}.{m[3]}"),
    (r"^rpn\.head\.conv\.0\.0\.(weight|bias)$", lambda m: f"rpn.head.conv.{m[1]}"),
    (r"^roi_heads\.mask_head\.(\d+)\.0\.(weight|bias)$", lambda m: f"roi_heads.mask_head.mask_fcn{int(m[1]) + 1}.{m[2]}"),
]


def old_name(name):
    for pattern, rename in OLD_SPELLING:
        m = re.match(pattern, name)
        if m:
            return rename(m)
    return name


def write(out):
    os.makedirs(out, exist_ok=True)
    sd = small_state_dict()
    torch.save(sd, f"{out}/zip.pth")
    torch.save(sd, f"{out}/legacy.pth", _use_new_zipfile_serialization=False)
    write_safetensors(f"{out}/model.safetensors", sd)
    torch.save({"model": sd, "epoch": 3, "args": argparse.Namespace(lr=0.02, name="x")}, f"{out}/wrapped_model.pth")
    torch.save({"state_dict": sd}, f"{out}/wrapped_state_dict.pth", _use_new_zipfile_serialization=False)
    expected = {}
    for name, t in torch.load(f"{out}/zip.pth").items():
        expected[name] = {"shape": list(t.shape), "dtype": DTYPE_NAME[t.dtype], "values": t.detach().double().flatten().tolist(),
                          "contiguous": t.is_contiguous(), "storage_offset": t.storage_offset()}

    # Malicious: unpickling runs `touch MARKER` (os.system → posix.system) or eval.
    marker = f"{out}/PWNED"
    payload = {"weight": torch.zeros(2), "x": evil(f"touch {marker}")}
    torch.save(payload, f"{out}/evil_zip.pth")
    torch.save(payload, f"{out}/evil_legacy.pth", _use_new_zipfile_serialization=False)
    torch.save(payload, f"{out}/evil_zip_p4.pth", pickle_protocol=4)
    torch.save({"weight": torch.zeros(2), "x": evil_eval(f"open('{marker}', 'w')")}, f"{out}/evil_eval.pth")
    torch.save(torch.nn.Linear(2, 2), f"{out}/whole_module.pth")
    evil_info = {}
    for f in ["evil_zip.pth", "evil_zip_p4.pth", "evil_eval.pth"]:
        names, reduce_after = reduce_globals(data_pkl(f"{out}/{f}"))
        evil_info[f] = {"globals": names, "reduce": reduce_after}

    # A published-checkpoint look-alike: legacy serialization, old FPN/RPN/mask-head spellings, FrozenBN.
    model = tiny_model()
    msd = model.state_dict()
    old = OrderedDict((old_name(k), v) for k, v in msd.items())
    torch.save(old, f"{out}/tiny_old_legacy.pth", _use_new_zipfile_serialization=False)
    tiny = {k: {"shape": list(v.shape), "sum": v.double().sum().item(), "first": v.flatten()[:3].tolist()} for k, v in msd.items()}

    json.dump({"tensors": expected, "marker": marker, "evil": evil_info, "tiny": tiny}, open(f"{out}/expected.json", "w"))


def torch_load(path):
    torch.load(path)  # full pickle: runs whatever the file says
    print("loaded")


def model_keys():
    default = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
    r18 = MaskRCNN(resnet_fpn_backbone(backbone_name="resnet18", weights=None), num_classes=7)
    sd18 = r18.state_dict()
    # Old spelling: give each tensor a distinct value, rename, load with strict=True into a fresh model
    # (no _metadata → state-dict version None → torchvision's renaming), and see where each value lands.
    old = OrderedDict()
    for i, (k, v) in enumerate(sd18.items()):
        old[old_name(k)] = torch.full_like(v, float(i))
    fresh = MaskRCNN(resnet_fpn_backbone(backbone_name="resnet18", weights=None), num_classes=7)
    fresh.load_state_dict(old, strict=True)
    old_names = list(old.keys())
    mapping = []
    for k, v in fresh.state_dict().items():
        src = old_names[int(v.flatten()[0].item())]
        if src != k:
            mapping.append([src, k])
    print(json.dumps({
        "torchvision": torchvision.__version__,
        "default": [[k, list(v.shape)] for k, v in default.items()],
        "r18c7": [[k, list(v.shape)] for k, v in sd18.items()],
        "old_to_new": mapping,
    }))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2])
    elif cmd == "torch-load":
        torch_load(sys.argv[2])
    elif cmd == "model-keys":
        model_keys()
    else:
        sys.exit(f"unknown command {cmd}: expected write DIR | torch-load FILE | model-keys")
