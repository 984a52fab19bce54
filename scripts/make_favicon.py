"""Writes static/favicon.ico (16 and 32 px): the brand's blue dot with a white «С».

No image library: each size is a 32-bit BMP (DIB) inside the ICO container. Run it again
only to change the icon; the result is committed.
"""

from __future__ import annotations

import struct
from pathlib import Path

BLUE = (0x1F, 0x6F, 0xEB)


def pixels(size: int) -> list[list[tuple[int, int, int, int]]]:
    """RGBA rows, top first: an anti-aliased disc and a ring-shaped «С» opening to the right."""
    rows = []
    c = (size - 1) / 2
    for y in range(size):
        row = []
        for x in range(size):
            dx, dy = x - c, y - c
            d = (dx * dx + dy * dy) ** 0.5
            alpha = max(0.0, min(1.0, size / 2 - d))
            r = d / (size / 2)
            letter = 0.36 < r < 0.62 and not (dx > 0 and abs(dy) < size * 0.16)
            rgb = (255, 255, 255) if letter else BLUE
            row.append((*rgb, int(alpha * 255)))
        rows.append(row)
    return rows


def dib(size: int) -> bytes:
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    body = b"".join(bytes((b, g, r, a)) for row in reversed(pixels(size)) for r, g, b, a in row)
    mask = b"\0" * (((size + 31) // 32) * 4 * size)
    return header + body + mask


def ico(sizes: tuple[int, ...] = (16, 32)) -> bytes:
    images = [dib(s) for s in sizes]
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for s, img in zip(sizes, images, strict=True):
        out += struct.pack("<BBBBHHII", s, s, 0, 0, 1, 32, len(img), offset)
        offset += len(img)
    return out + b"".join(images)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "static" / "favicon.ico"
    target.write_bytes(ico())
    print(f"{target}: {target.stat().st_size} bytes")
