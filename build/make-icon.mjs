// Draws the app icon (a pyramid of scales: VAR predicts an image coarse to fine) and writes
// resources/icon.png (512), icon.ico (PNG-compressed 256 + 48 + 32 + 16) and icon.icns (PNG 512 + 256 + 32).
// Run: node build/make-icon.mjs
import sharp from 'sharp';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const out = (name) => fileURLToPath(new URL(`../resources/${name}`, import.meta.url));

// Four grids, 1×1 to 4×4 cells, each drawn finer: the next-scale idea in one picture.
function svg() {
  const cells = [];
  const grids = [[64, 64, 1], [196, 64, 2], [64, 260, 3], [260, 260, 4]];
  const size = 188;
  for (const [x0, y0, n] of grids) {
    const c = size / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const shade = 150 + ((i * 7 + j * 13 + n * 5) % 5) * 20;
      cells.push(`<rect x="${x0 + j * c + 3}" y="${y0 + i * c + 3}" width="${c - 6}" height="${c - 6}" rx="${Math.max(2, 10 / n)}" fill="rgb(${shade - 60},${shade - 20},255)"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#20242e"/><stop offset="1" stop-color="#15171c"/></linearGradient></defs>
<rect width="512" height="512" rx="96" fill="url(#g)"/>${cells.join('')}</svg>`;
}

const png = (size) => sharp(Buffer.from(svg())).resize(size, size).png({ compressionLevel: 9 }).toBuffer();

/** ICO with PNG entries (Windows Vista and later read PNG-compressed icons; a width byte of 0 means 256). */
function ico(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, data }, k) => {
    const e = 6 + 16 * k;
    header.writeUInt8(size >= 256 ? 0 : size, e);
    header.writeUInt8(size >= 256 ? 0 : size, e + 1);
    header.writeUInt16LE(1, e + 4); // colour planes
    header.writeUInt16LE(32, e + 6); // bits per pixel
    header.writeUInt32LE(data.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += data.length;
  });
  return Buffer.concat([header, ...images.map((i) => i.data)]);
}

/** ICNS with PNG elements: ic09 = 512, ic08 = 256, ic05 = 32 (macOS reads PNG data in these slots). */
function icns(entries) {
  const parts = entries.map(({ type, data }) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([head, data]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

const [p512, p256, p48, p32, p16] = await Promise.all([512, 256, 48, 32, 16].map(png));
await writeFile(out('icon.png'), p512);
await writeFile(out('icon.ico'), ico([{ size: 256, data: p256 }, { size: 48, data: p48 }, { size: 32, data: p32 }, { size: 16, data: p16 }]));
await writeFile(out('icon.icns'), icns([{ type: 'ic09', data: p512 }, { type: 'ic08', data: p256 }, { type: 'ic05', data: p32 }]));
