#!/usr/bin/env node
// Draws the app icon and writes it in every format the installers use:
//   build/icon.png            512x512 (electron-builder's default icon; also the Linux fallback)
//   build/icons/<n>x<n>.png   16 … 512, for Linux desktop entries (AppImage, deb)
//   build/icon.ico            Windows: 16-48 as 32-bit BMP, 64-256 as PNG
//   build/icon.icns           macOS: 16 … 1024 as PNG
// Run `node build/make-icons.mjs` after changing the drawing; the output is committed. Plain Node, no
// dependencies: shapes are rasterised with 4x4 supersampling and PNGs are encoded with zlib.
import { Buffer } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { argv, stdout } from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateSync } from 'node:zlib';

// ---- Drawing (unit square, y down) -------------------------------------------------------------

const TOP = [0x3f, 0x51, 0xb5]; // indigo
const BOTTOM = [0x00, 0x89, 0x7b]; // teal

/** Signed distance to a rounded square inset by `m` with corner radius `r` (negative inside). */
function roundedSquare(x, y, m, r) {
  const qx = Math.abs(x - 0.5) - (0.5 - m - r);
  const qy = Math.abs(y - 0.5) - (0.5 - m - r);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Inside a convex polygon given clockwise (screen coordinates). */
function inConvex(x, y, pts) {
  for (let i = 0; i < pts.length; i++) {
    const [ax, ay] = pts[i];
    const [bx, by] = pts[(i + 1) % pts.length];
    if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0) return false;
  }
  return true;
}

const inCircle = (x, y, cx, cy, r) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;

// A funnel (many sentences in) over a single drop (one small model out).
const BOWL = [
  [0.24, 0.24],
  [0.76, 0.24],
  [0.555, 0.5],
  [0.445, 0.5],
];
const SPOUT = [
  [0.445, 0.49],
  [0.555, 0.49],
  [0.555, 0.6],
  [0.445, 0.6],
];
const DROP_TIP = [
  [0.5, 0.64],
  [0.565, 0.745],
  [0.435, 0.745],
];
const DOTS = [
  [0.38, 0.3],
  [0.5, 0.3],
  [0.62, 0.3],
  [0.44, 0.37],
  [0.56, 0.37],
];

/** RGBA (0-255, premultiplied as floats) of one sample, or null when transparent. */
function sample(x, y) {
  if (roundedSquare(x, y, 0.06, 0.2) > 0) return null;
  const t = Math.min(1, Math.max(0, (y - 0.06) / 0.88));
  const bg = TOP.map((c, i) => c + (BOTTOM[i] - c) * t);
  const inDot = DOTS.some(([cx, cy]) => inCircle(x, y, cx, cy, 0.035));
  const white =
    (inConvex(x, y, BOWL) && !inDot) ||
    inConvex(x, y, SPOUT) ||
    inCircle(x, y, 0.5, 0.77, 0.068) ||
    inConvex(x, y, DROP_TIP);
  return white ? [255, 255, 255] : bg;
}

/** The icon at `size` x `size`, as straight (non-premultiplied) RGBA bytes. */
export function renderIcon(size) {
  const ss = 4;
  const out = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const c = sample((px + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 1;
        }
      }
      const o = (py * size + px) * 4;
      if (a > 0) {
        out[o] = Math.round(r / a);
        out[o + 1] = Math.round(g / a);
        out[o + 2] = Math.round(b / a);
        out[o + 3] = Math.round((255 * a) / (ss * ss));
      }
    }
  }
  return out;
}

// ---- Encoders ------------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit RGBA PNG (filter 0 on every row). */
export function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 32-bit BMP icon image (BITMAPINFOHEADER, bottom-up BGRA, then the 1-bit AND mask). */
function encodeIcoBmp(size, rgba) {
  const header = Buffer.alloc(40);
  header.writeUInt32LE(40, 0);
  header.writeInt32LE(size, 4);
  header.writeInt32LE(size * 2, 8); // XOR image + AND mask
  header.writeUInt16LE(1, 12);
  header.writeUInt16LE(32, 14);
  const pixels = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = (y * size + x) * 4;
      const d = ((size - 1 - y) * size + x) * 4;
      pixels[d] = rgba[s + 2];
      pixels[d + 1] = rgba[s + 1];
      pixels[d + 2] = rgba[s];
      pixels[d + 3] = rgba[s + 3];
    }
  }
  const maskRow = Math.ceil(size / 32) * 4;
  const mask = Buffer.alloc(maskRow * size); // all zero: alpha decides
  return Buffer.concat([header, pixels, mask]);
}

/** A Windows .ico from { size, rgba } images (PNG-compressed from 64 px up, as Windows does). */
export function encodeIco(images) {
  const head = Buffer.alloc(6);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(1, 2);
  head.writeUInt16LE(images.length, 4);
  const datas = images.map(({ size, rgba }) => (size >= 64 ? encodePng(size, rgba) : encodeIcoBmp(size, rgba)));
  const dir = Buffer.alloc(16 * images.length);
  let offset = 6 + dir.length;
  images.forEach(({ size }, i) => {
    const e = i * 16;
    dir[e] = size >= 256 ? 0 : size;
    dir[e + 1] = size >= 256 ? 0 : size;
    dir.writeUInt16LE(1, e + 4); // planes
    dir.writeUInt16LE(32, e + 6); // bits per pixel
    dir.writeUInt32LE(datas[i].length, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += datas[i].length;
  });
  return Buffer.concat([head, dir, ...datas]);
}

/** ICNS element types holding PNG data, with their pixel sizes. */
export const ICNS_TYPES = [
  ['icp4', 16],
  ['icp5', 32],
  ['ic11', 32], // 16@2x
  ['ic12', 64], // 32@2x
  ['ic07', 128],
  ['ic13', 256], // 128@2x
  ['ic08', 256],
  ['ic14', 512], // 256@2x
  ['ic09', 512],
  ['ic10', 1024], // 512@2x
];

/** A macOS .icns with one PNG element per entry of ICNS_TYPES; `png(size)` supplies the data. */
export function encodeIcns(png) {
  const elements = ICNS_TYPES.map(([type, size]) => {
    const data = png(size);
    const head = Buffer.alloc(8);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([head, data]);
  });
  const body = Buffer.concat(elements);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

export const LINUX_SIZES = [16, 32, 48, 64, 128, 256, 512];
export const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];

/** Write every icon file into `dir` (build/ by default). */
export function writeIcons(dir = dirname(fileURLToPath(import.meta.url))) {
  const pngs = new Map();
  const rgbaOf = new Map();
  const rgba = (size) => {
    if (!rgbaOf.has(size)) rgbaOf.set(size, renderIcon(size));
    return rgbaOf.get(size);
  };
  const png = (size) => {
    if (!pngs.has(size)) pngs.set(size, encodePng(size, rgba(size)));
    return pngs.get(size);
  };
  const written = [];
  const write = (name, data) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
    written.push(name);
  };
  write('icon.png', png(512));
  for (const size of LINUX_SIZES) write(`icons/${size}x${size}.png`, png(size));
  write('icon.ico', encodeIco(ICO_SIZES.map((size) => ({ size, rgba: rgba(size) }))));
  write('icon.icns', encodeIcns(png));
  return written;
}

if (argv[1] && import.meta.url === pathToFileURL(argv[1]).href) {
  for (const name of writeIcons()) stdout.write(`wrote build/${name}\n`);
}
