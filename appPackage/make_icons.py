"""Draw the Teams app icons: color.png (192x192) and outline.png (32x32, white on transparent).

The committed PNGs are what ships; run this only to change them. It needs Pillow, which is not a
project dependency -- use the tools venv:

    .venv-tools/bin/python appPackage/make_icons.py

Teams' rules: the color icon is a full-colour 192x192 PNG (Teams rounds the corners itself); the
outline icon is 32x32, white (#FFFFFF) strokes on a fully transparent background. The glyph is a
padlock with a row of code digits, drawn 8x larger and scaled down so the edges are antialiased
(antialiasing of the outline lives in the alpha channel only: every pixel's colour stays white).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ACCENT = (0x1F, 0x4E, 0x79)  # the manifest's accentColor, #1F4E79
SUPERSAMPLE = 8


def padlock_mask(size: int, *, margin: float, with_digits: bool) -> Image.Image:
    """An 'L' mask (255 = glyph) of a padlock, `margin` a fraction of the side left empty."""
    big = size * SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    m = big * margin
    inner = big - 2 * m
    # Body: lower 58 % of the glyph box, rounded corners.
    body_top = m + inner * 0.42
    body = (m, body_top, big - m, big - m)
    draw.rounded_rectangle(body, radius=inner * 0.10, fill=255)
    # Shackle: a thick arch standing on the body.
    stroke = inner * 0.12
    sx0, sx1 = m + inner * 0.20, big - m - inner * 0.20
    arch = (sx0, m, sx1, m + (sx1 - sx0))
    draw.arc(arch, start=180, end=360, fill=255, width=round(stroke))
    cy = m + (sx1 - sx0) / 2
    draw.rectangle((sx0, cy, sx0 + stroke, body_top + 1), fill=255)
    draw.rectangle((sx1 - stroke, cy, sx1, body_top + 1), fill=255)
    if with_digits:
        # Three code "digits" punched out of the body.
        bw = body[2] - body[0]
        bh = body[3] - body[1]
        dot_w, dot_h = bw * 0.16, bh * 0.30
        gap = (bw - 3 * dot_w) / 4
        y0 = body[1] + (bh - dot_h) / 2
        for i in range(3):
            x0 = body[0] + gap + i * (dot_w + gap)
            draw.rounded_rectangle((x0, y0, x0 + dot_w, y0 + dot_h), radius=dot_w * 0.3, fill=0)
    else:
        # Keyhole, which stays readable at 32 px.
        bx = (body[0] + body[2]) / 2
        by = (body[1] + body[3]) / 2
        r = inner * 0.09
        draw.ellipse((bx - r, by - r * 1.4, bx + r, by + r * 0.6), fill=0)
        draw.rectangle((bx - r * 0.45, by, bx + r * 0.45, by + r * 1.9), fill=0)
    return mask.resize((size, size), Image.Resampling.LANCZOS)


def color_icon() -> Image.Image:
    size = 192
    image = Image.new("RGBA", (size, size), ACCENT + (255,))
    glyph = padlock_mask(size, margin=0.22, with_digits=True)
    white = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    image.paste(white, (0, 0), glyph)
    return image.convert("RGB")  # fully opaque: no alpha channel needed


def outline_icon() -> Image.Image:
    size = 32
    alpha = padlock_mask(size, margin=0.09, with_digits=False)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    image.putalpha(alpha)
    return image


def main(out_dir: Path = HERE) -> int:
    color_icon().save(out_dir / "color.png", optimize=True)
    outline_icon().save(out_dir / "outline.png", optimize=True)
    print(f"wrote {out_dir / 'color.png'} and {out_dir / 'outline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
