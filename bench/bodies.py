"""The costliest request bodies for the API, as the core's `submit_images` bench builds them:
the largest image and mask it accepts (4096×4096 RGBA each, compressible enough to fit the
body limit), and an 8192×8192 single-colour PNG (small on the wire, 256 MiB decoded) that it
must refuse from its header. PNGs are written with zlib alone, so no imaging library is needed.
"""

import base64
import json
import struct
import zlib


def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_rgba(width, height, row, up):
    """A PNG of `height` rows of RGBA: row 0 is `row(0)` as is, each later row y is written
    with PNG's "Up" filter as `up(y)`, its bytes' difference from row y-1 (mod 256), the
    way a PNG encoder makes a gradient small."""
    raw = bytearray(b"\x00" + row(0))
    for y in range(1, height):
        raw.append(2)
        raw += up(y)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b""))


def largest_image_and_mask():
    side = 4096
    xs = range(side)

    def picture(y):
        return bytes(v for x in xs for v in (x % 256, y % 256, (x // 16) % 256, 255))

    def mask(y):
        inside = 1024 <= y < 3072
        return bytes(v for x in xs for v in
                     ((255,) * 4 if inside and 1024 <= x < 3072 else (0, 0, 0, 255)))

    # Each picture row adds 1 to green; the mask changes only where its square starts and ends.
    picture_up = bytes((0, 1, 0, 0)) * side
    same = bytes(4 * side)

    def mask_up(y):
        if y in (1024, 3072):
            return bytes((a - b) & 255 for a, b in zip(mask(y), mask(y - 1)))
        return same

    body = {
        "prompt": "1girl, cat ears",
        "model": "nai-v4.5",
        "image": base64.b64encode(png_rgba(side, side, picture, lambda y: picture_up)).decode(),
        "mask": base64.b64encode(png_rgba(side, side, mask, mask_up)).decode(),
    }
    return json.dumps(body)


def single_colour_8192():
    side = 8192
    row = bytes((200, 120, 40, 255)) * side
    png = png_rgba(side, side, lambda y: row, lambda y: bytes(4 * side))
    return json.dumps({"prompt": "1girl", "image": base64.b64encode(png).decode()})


def flat_png_b64(width, height):
    """A one-colour RGBA PNG, base64: a tool's source of the largest size, small on the wire."""
    row = bytes((90, 140, 200, 255)) * width
    png = png_rgba(width, height, lambda y: row, lambda y: bytes(4 * width))
    return base64.b64encode(png).decode()


def worst_jobs():
    """The worker's costliest answers: the largest upscale (a 1536×2048 source, 3072×4096
    back) and a background removal of the largest source a tool takes (three RGBA images of
    its size back). With the fake's `noisy_tools` every answer is as large as a PNG of that
    size can be (about 36 MiB each)."""
    return [
        ("upscale of a 1536x2048 source (one 3072x4096 PNG back)", "/upscale",
         {"image": flat_png_b64(1536, 2048)}),
        ("bg-removal of a 1536x2040 source (three RGBA PNGs back)", "/augment",
         {"tool": "bg-removal", "image": flat_png_b64(1536, 2040)}),
    ]
