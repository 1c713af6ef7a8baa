#!/usr/bin/env python3
# tests/pngcolours.py PNG Y0 Y1 #rrggbb...: how many pixels of the rows Y0
# to Y1 (excluded) of the screenshot PNG are each colour (within 24 per channel, for antialiasing), one count per
# line.  A PNG reader of its own (8-bit RGB or RGBA, as Chromium writes
# them): the test machine has no imaging library.
import struct
import sys
import zlib


def pixels(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise SystemExit('not a PNG: ' + path)
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            if depth != 8 or ctype not in (2, 6) or body[12] != 0:
                raise SystemExit('unsupported PNG (depth %d, type %d)' % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    prev, out, i = bytearray(stride), [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        out.append(bytes(line))
        prev = line
    return out, bpp


def main():
    rows, bpp = pixels(sys.argv[1])
    y0, y1 = int(sys.argv[2]), int(sys.argv[3])
    want = [tuple(int(c[k:k + 2], 16) for k in (1, 3, 5)) for c in sys.argv[4:]]
    counts = [0] * len(want)
    for row in rows[y0:y1]:
        for x in range(0, len(row), bpp):
            px = row[x:x + 3]
            for k, (r, g, b) in enumerate(want):
                if abs(px[0] - r) <= 24 and abs(px[1] - g) <= 24 and abs(px[2] - b) <= 24:
                    counts[k] += 1
    for n in counts:
        print(n)


main()
