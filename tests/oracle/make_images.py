"""Regenerate tests/fixtures/images/: small PNG/JPEG files covering every decoder path, plus broken ones.

    /usr/bin/python3 tests/oracle/make_images.py

PIL writes what it can; 16-bit RGB(A), 2-bit grey and interlaced PNGs are written by hand below
(PIL cannot save them). Deterministic: the same bytes on every run with the same PIL/zlib.
"""
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "images"


def scene(h=48, w=64, seed=0):
    """A small photo-like RGB image: gradients, a disc, thin lines, coloured edges, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 40 + 150 * x / w + 20 * np.sin(y / 3)
    g = 30 + 120 * y / h
    b = 200 - 120 * x / w
    disc = (x - w * 0.6) ** 2 + (y - h * 0.45) ** 2 < (min(h, w) * 0.25) ** 2
    r[disc], g[disc], b[disc] = 230, 40, 60
    g[:, ::7] = 250  # thin vertical lines: chroma edges
    b[h // 3 : h // 3 + 2, :] = 10
    img = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(samples, color_type, depth, interlace=False, extra=b"", width=None):
    """samples: h×w×c array of raw sample values, or h×bytes already packed (depth < 8, give width)."""
    h, w = samples.shape[0], width or samples.shape[1]
    dtype = ">u2" if depth == 16 else np.uint8

    def rows(a):
        return b"".join(b"\x00" + a[i].astype(dtype).tobytes() for i in range(a.shape[0]))

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(rows(samples[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if samples[y0::dy, x0::dx].size)
    else:
        raw = rows(samples)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def save(name, data):
    path = OUT / name
    path.write_bytes(data)
    assert path.stat().st_size < 50_000, f"{name} is {path.stat().st_size} bytes"
    print(f"{name:24s} {path.stat().st_size:6d} bytes")


def pil_bytes(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rgb = scene()
    im = Image.fromarray(rgb)
    alpha = (np.arange(48 * 64).reshape(48, 64) * 5 % 256).astype(np.uint8)

    # PNG via PIL
    save("rgb.png", pil_bytes(im, "PNG"))
    save("rgba.png", pil_bytes(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"))
    save("gray.png", pil_bytes(im.convert("L"), "PNG"))
    save("gray_alpha.png", pil_bytes(Image.fromarray(np.dstack([np.asarray(im.convert("L")), alpha]), "LA"), "PNG"))
    save("palette.png", pil_bytes(im.quantize(200), "PNG"))
    save("palette4.png", pil_bytes(im.quantize(16), "PNG", bits=4))
    save("palette_trns.png", pil_bytes(im.quantize(64), "PNG", transparency=3))
    save("bilevel.png", pil_bytes(im.convert("1"), "PNG"))
    save("rgb_trns.png", pil_bytes(im, "PNG", transparency=tuple(int(v) for v in rgb[0, 0])))
    gray16 = (np.asarray(im.convert("L")).astype(np.uint16) * 257 + np.arange(64, dtype=np.uint16)[None, :] * 3)
    save("gray16.png", pil_bytes(Image.fromarray(gray16.astype(np.uint16), "I;16"), "PNG"))
    save("1x1.png", pil_bytes(Image.new("RGB", (1, 1), (200, 100, 50)), "PNG"))

    # PNG by hand (PIL cannot write these)
    rgb16 = rgb.astype(np.uint16) * 257 + np.arange(3, dtype=np.uint16) * 100
    save("rgb16.png", png_bytes(rgb16, 2, 16))
    save("rgba16.png", png_bytes(np.dstack([rgb16, alpha.astype(np.uint16) * 257]), 6, 16))
    gray = np.asarray(im.convert("L"))
    g2 = gray >> 6  # 2-bit samples, 4 per byte
    packed = np.zeros((48, 16), np.uint8)
    for k in range(4):
        packed |= (g2[:, k::4] << (6 - 2 * k)).astype(np.uint8)
    save("gray2.png", png_bytes(packed, 0, 2, width=64))
    save("gray_trns.png", png_bytes(gray[:, :, None], 0, 8, extra=chunk(b"tRNS", struct.pack(">H", int(gray[5, 5])))))
    save("interlaced.png", png_bytes(rgb[:45, :61], 2, 8, interlace=True))

    # JPEG via PIL (libjpeg-turbo)
    save("baseline420.jpg", pil_bytes(im, "JPEG", quality=90, subsampling=2))
    save("baseline422.jpg", pil_bytes(im, "JPEG", quality=90, subsampling=1))
    save("baseline444.jpg", pil_bytes(im, "JPEG", quality=90, subsampling=0))
    save("odd420.jpg", pil_bytes(Image.fromarray(scene(37, 53, seed=1)), "JPEG", quality=85, subsampling=2))
    save("progressive.jpg", pil_bytes(im, "JPEG", quality=90, progressive=True))
    save("gray.jpg", pil_bytes(im.convert("L"), "JPEG", quality=90))
    save("cmyk.jpg", pil_bytes(im.convert("CMYK"), "JPEG", quality=95))
    save("1x1.jpg", pil_bytes(Image.new("RGB", (1, 1), (200, 100, 50)), "JPEG", quality=95))

    # Broken and foreign files
    good = (OUT / "rgb.png").read_bytes()
    idat = good.index(b"IDAT") + 4
    corrupt = bytearray(good)
    corrupt[idat + 10] ^= 0xFF  # data changed, CRC not
    save("corrupt.png", bytes(corrupt))
    save("truncated.png", good[: len(good) * 2 // 3])
    jpg = (OUT / "baseline420.jpg").read_bytes()
    save("truncated.jpg", jpg[: len(jpg) * 2 // 3])
    save("not_image.gif", pil_bytes(im.convert("P"), "GIF"))


if __name__ == "__main__":
    main()
