// The one image I/O path of the app (studio hosts and CLI): one decoder, one encoder for PNG/JPEG/WebP and
// one metadata writer/reader (PNG tEXt right after IHDR; XMP for JPEG/WebP). Never writes to disk itself.
//
// Decoding: EXIF orientation is applied (phone photos stand upright), the colour space becomes sRGB and
// alpha is flattened over white — the canvas' own background — so every opener sees the same pixels.
import sharp from 'sharp';
import extractChunks from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';
import * as pngText from 'png-chunk-text';
import type { RgbImage } from '../engine/index';
import { LIMITS, type ExportFormat, type ExportParams, type ImageSettings, type InspectResult } from '../shared/contract';
import {
  EDIT_CHAIN_KEY, editChainFromJson, editChainToJson,
  type CanvasOpenResult, type DocumentExportParams, type EditChain,
} from '../shared/edit';
import { SETTINGS_KEY, describeSettings, settingsFromJson, settingsToJson } from '../shared/settings';
import { StudioError } from '../shared/errors';
import { unpack } from './documents';

export const MIME: Record<ExportFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
export const EXTENSION: Record<ExportFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/** An encoded file, ready to deliver. */
export interface ImageFile { bytes: Uint8Array; mime: string; fileName: string }

// ---------- metadata: one record per file, under its key ----------

/** A JSON record embedded in a file: PNG tEXt keyword `key`, XMP element varstudio:<XMP_ELEMENT[key]>. */
export interface MetaRecord { key: typeof SETTINGS_KEY | typeof EDIT_CHAIN_KEY; json: string; description: string }

const XMP_NS = 'https://var-studio.local/ns/1.0/';
const XMP_ELEMENT: Record<MetaRecord['key'], string> = { [SETTINGS_KEY]: 'settings', [EDIT_CHAIN_KEY]: 'editChain' };

/** PNG tEXt is Latin-1: escape anything above U+00FF as a JSON \u escape so the JSON stays exact. */
function latin1Json(json: string): string {
  return json.replace(/[\u0100-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xmlUnescape(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}

export function xmpPacket(meta: MetaRecord): string {
  const element = `varstudio:${XMP_ELEMENT[meta.key]}`;
  return (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:varstudio="${XMP_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">` +
    '<xmp:CreatorTool>VAR Studio</xmp:CreatorTool>' +
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xmlEscape(meta.description)}</rdf:li></rdf:Alt></dc:description>` +
    `<${element}>${xmlEscape(meta.json)}</${element}>` +
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
  );
}

/** Inserts tEXt chunks right after IHDR: libvips ignores tEXt placed after IDAT. */
export function withPngText(png: Uint8Array, text: Record<string, string>): Uint8Array {
  const chunks = extractChunks(png).filter((c) => !(c.name === 'tEXt' && pngText.decode(c.data).keyword in text));
  if (chunks[0]?.name !== 'IHDR') throw new StudioError('export-failed', 'The PNG encoder produced a file without IHDR first.', 'Try another format.');
  const extra = Object.entries(text).map(([k, v]) => pngText.encode(k, latin1Json(v)));
  return encodeChunks([chunks[0], ...extra, ...chunks.slice(1)]);
}

/** The tEXt entries of a PNG (empty for other formats). */
export function readPngText(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  if (bytes.length < 8 || bytes[0] !== 0x89 || bytes[1] !== 0x50) return out;
  for (const c of extractChunks(bytes)) {
    if (c.name === 'tEXt') {
      const { keyword, text } = pngText.decode(c.data);
      out[keyword] = text;
    }
  }
  return out;
}

/** The VAR Studio records of a file by key (PNG tEXt, or the XMP of JPEG/WebP); absent keys are missing. */
export function readMetaRecords(bytes: Uint8Array, format: string | undefined, xmp: Buffer | undefined): Partial<Record<MetaRecord['key'], string>> {
  if (format === 'png') {
    const text = readPngText(bytes);
    return Object.fromEntries(Object.keys(XMP_ELEMENT).filter((k) => text[k] !== undefined).map((k) => [k, text[k]]));
  }
  const out: Partial<Record<MetaRecord['key'], string>> = {};
  if (!xmp) return out;
  const packet = xmp.toString('utf8');
  for (const [key, element] of Object.entries(XMP_ELEMENT) as [MetaRecord['key'], string][]) {
    const m = new RegExp(`<varstudio:${element}>([\\s\\S]*?)</varstudio:${element}>`).exec(packet);
    if (m) out[key] = xmlUnescape(m[1]);
  }
  return out;
}

// ---------- encoding ----------

export interface EncodeOptions {
  format: ExportFormat;
  /** JPEG/WebP quality 1..100 (ignored for PNG). */
  quality: number;
  /** Enlarge by this factor first (1 = as is). */
  upscale?: number;
  kernel?: 'nearest' | 'lanczos3';
}

/** RGB → PNG/JPEG/WebP bytes with at most one metadata record. A plain Uint8Array (not a pooled Buffer view), ready for the wire. */
export async function encodeImage(image: RgbImage, opts: EncodeOptions, meta?: MetaRecord): Promise<Uint8Array> {
  const upscale = opts.upscale ?? 1;
  let pipeline = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
  if (upscale > 1) pipeline = pipeline.resize(image.width * upscale, image.height * upscale, { kernel: opts.kernel ?? 'nearest', fit: 'fill' });
  let bytes: Uint8Array;
  if (opts.format === 'png') {
    const png = await pipeline.png({ compressionLevel: 9 }).toBuffer();
    bytes = meta ? withPngText(png, { [meta.key]: meta.json, Software: 'VAR Studio', Description: meta.description }) : png;
  } else {
    // EXIF text is ASCII: non-ASCII characters become '?' there (the XMP keeps the exact text).
    const withMeta = !meta ? pipeline : pipeline.withXmp(xmpPacket(meta)).withExif({ IFD0: { Software: 'VAR Studio', ImageDescription: meta.description.replace(/[^\x20-\x7e]/g, '?') } });
    bytes = opts.format === 'jpeg'
      ? await withMeta.jpeg({ quality: opts.quality, chromaSubsampling: opts.quality >= 90 ? '4:4:4' : '4:2:0' }).toBuffer()
      : await withMeta.webp({ quality: opts.quality }).toBuffer();
  }
  return new Uint8Array(bytes);
}

export function settingsRecord(settings: ImageSettings): MetaRecord {
  return { key: SETTINGS_KEY, json: settingsToJson(settings), description: describeSettings(settings) };
}

function fileNameFor(fileName: string, format: ExportFormat): string {
  return `${fileName.replace(/\.(png|jpe?g|webp)$/i, '')}.${EXTENSION[format]}`;
}

/** image.export: the generated image (optionally upscaled) with its generation settings. */
export async function encodeExport(p: ExportParams): Promise<ImageFile> {
  const { image, upscale } = p;
  if (image.width * upscale > LIMITS.maxSide || image.height * upscale > LIMITS.maxSide)
    throw new StudioError('export-too-large', `Upscaling ${image.width}×${image.height} by ${upscale} exceeds ${LIMITS.maxSide} pixels.`, 'Choose a smaller upscale factor.');
  const bytes = await encodeImage(image, { format: p.format, quality: p.quality, upscale, kernel: p.kernel }, settingsRecord(p.settings));
  return { bytes, mime: MIME[p.format], fileName: fileNameFor(p.fileName, p.format) };
}

export function describeChain(chain: EditChain): string {
  const steps = chain.steps.map((s) => `${s.op}${s.op === 'class-edit' ? ` to ${s.className}` : ''} (seed ${s.seed})`);
  const from = chain.source.kind === 'file' ? `opened from ${chain.source.fileName}` : 'generated in VAR Studio';
  return `Edited in VAR Studio, ${from}; ${steps.length ? steps.join(', ') : 'no model edits'}`.slice(0, 2000);
}

export function chainRecord(chain: EditChain): MetaRecord {
  // The source's generation settings stay inside the chain only: written as the top-level settings they would
  // make "open → Generate" re-create the unedited source and call the edited file a mismatch.
  return { key: EDIT_CHAIN_KEY, json: editChainToJson(chain), description: describeChain(chain) };
}

/** document.export: the full-size edited image with its edit chain. */
export async function encodeDocumentExport(p: DocumentExportParams): Promise<ImageFile> {
  const rgb = unpack(p.image, p.width * p.height * 3, 'exported image');
  if (p.chain.source.kind === 'generated') settingsFromJson(p.chain.source.settingsJson); // refuse a damaged source record
  const bytes = await encodeImage({ width: p.width, height: p.height, data: rgb }, { format: p.format, quality: p.quality }, chainRecord(p.chain));
  return { bytes, mime: MIME[p.format], fileName: fileNameFor(p.fileName, p.format) };
}

// ---------- decoding ----------

/**
 * The one set of pixel limits for every image the host reads (canvas, inspect, CLI inputs): checked on the
 * header before any pixel is decoded, so a decompression bomb costs its header and nothing more.
 */
export const PIXEL_LIMITS = { maxSide: LIMITS.maxSide, maxPixels: LIMITS.maxSide * LIMITS.maxSide } as const;

/** The formats the host decodes: the ones it also writes. */
const OPENABLE = new Set(['png', 'jpeg', 'webp']);

/** Refuses, from the header alone, a format the host does not open or a size past PIXEL_LIMITS. */
function checkHeader(header: Header, what: string): string {
  if (!header.format || !OPENABLE.has(header.format))
    throw new StudioError('unsupported-image', `${what} is a ${header.format ?? 'unknown'} file; PNG, JPEG and WebP can be opened.`, 'Convert the file to PNG, JPEG or WebP first.');
  if (!header.width || !header.height || header.width > PIXEL_LIMITS.maxSide || header.height > PIXEL_LIMITS.maxSide)
    throw new StudioError('image-too-large', `${what} is ${header.width}×${header.height} pixels; at most ${PIXEL_LIMITS.maxSide}×${PIXEL_LIMITS.maxSide} can be opened.`, `Scale the image down (at most ${PIXEL_LIMITS.maxSide} pixels per side) and open it again.`);
  return header.format;
}

/** Decodes PNG/JPEG/WebP to RGB: EXIF orientation applied, alpha over white, sRGB. The header is checked first. */
export async function decodeImage(bytes: Uint8Array): Promise<RgbImage> {
  let header: Header;
  try {
    header = await readHeader(bytes);
  } catch (e) {
    throw new StudioError('unreadable-image', `cannot decode the image (${bytes.length} bytes; PNG, JPEG or WebP expected): ${(e as Error).message.split('\n')[0]}`, 'The file may be truncated or damaged; use another copy.');
  }
  checkHeader(header, 'The image');
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: PIXEL_LIMITS.maxPixels })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, found ${info.channels}`);
    // A compact copy (not a view into a pooled Buffer), so exactly these bytes travel.
    return { width: info.width, height: info.height, data: new Uint8Array(data) };
  } catch (e) {
    throw new StudioError('unreadable-image', `cannot decode the image (${bytes.length} bytes; PNG, JPEG or WebP expected): ${(e as Error).message.split('\n')[0]}`, 'The file may be truncated or damaged; use another copy.');
  }
}

/** Decodes a mask image to one channel in [0, 1] (white = 1 = regenerate); colour masks use their luminance. */
export async function decodeMask(bytes: Uint8Array): Promise<{ width: number; height: number; data: Float32Array }> {
  const img = await decodeImage(bytes);
  const n = img.width * img.height;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[3 * i], g = img.data[3 * i + 1], b = img.data[3 * i + 2];
    data[i] = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  }
  return { width: img.width, height: img.height, data };
}

interface Header { format: string | undefined; width: number | undefined; height: number | undefined; xmp: Buffer | undefined }

/** Reads only the header (no pixel limit), so an oversized image is named as such, not as unreadable. */
async function readHeader(bytes: Uint8Array): Promise<Header> {
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  return { format: meta.format, width: meta.width, height: meta.height, xmp: meta.xmp };
}

/** image.inspect: an opened file's pixels and the VAR Studio settings if it carries them. */
export async function inspectImage(bytes: Uint8Array): Promise<InspectResult> {
  let header: Header;
  try {
    header = await readHeader(bytes);
  } catch (e) {
    throw new StudioError('unreadable-image', `This file is not an image that can be read (${(e as Error).message}).`, 'Open a PNG, JPEG or WebP file, for example one exported by VAR Studio.');
  }
  checkHeader(header, 'The image'); // the same formats and limits as canvas.open
  let settings: ImageSettings | null = null;
  let note = 'This image carries no VAR Studio settings.';
  try {
    const json = readMetaRecords(bytes, header.format, header.xmp)[SETTINGS_KEY];
    if (json) settings = settingsFromJson(json);
    if (settings) note = `Settings restored: ${describeSettings(settings)}.`;
  } catch (e) {
    note = `The VAR Studio settings in this file are damaged (${(e as Error).message}); only the picture was opened.`;
    settings = null;
  }
  return { settings, note, image: await decodeImage(bytes), format: header.format ?? 'unknown' };
}

/** canvas.open: an image for the canvas with its edit chain / generation settings if it has them. */
export async function openCanvasImage(bytes: Uint8Array, fileName: string): Promise<CanvasOpenResult> {
  let header: Header;
  try {
    header = await readHeader(bytes);
  } catch (e) {
    throw new StudioError('unreadable-image', `"${fileName}" is not an image that can be read (${(e as Error).message.split('\n')[0]}). The canvas was left as it was.`, 'Open a PNG, JPEG or WebP file.');
  }
  let format: string;
  try {
    format = checkHeader(header, JSON.stringify(fileName));
  } catch (e) {
    if (e instanceof StudioError) throw new StudioError(e.code, `${e.message} The canvas was left as it was.`, e.hint);
    throw e;
  }
  let image: RgbImage;
  try {
    image = await decodeImage(bytes);
  } catch (e) {
    throw new StudioError('unreadable-image', `"${fileName}" could not be decoded (${(e as Error).message.split('\n')[0]}). The canvas was left as it was.`, 'The file may be truncated or damaged; open another copy.');
  }
  const records = readMetaRecords(bytes, format, header.xmp);
  let settings: ImageSettings | null = null;
  let chain: EditChain | null = null;
  const notes: string[] = [];
  try {
    settings = records[SETTINGS_KEY] ? settingsFromJson(records[SETTINGS_KEY]) : null;
    if (settings) notes.push(`Generated in VAR Studio: ${describeSettings(settings)}.`);
  } catch (e) {
    notes.push(`The generation settings in this file are damaged (${(e as Error).message.slice(0, 200)}).`);
  }
  try {
    chain = records[EDIT_CHAIN_KEY] ? editChainFromJson(records[EDIT_CHAIN_KEY]) : null;
    if (chain) notes.push(`Edited in VAR Studio: ${chain.steps.length} edit${chain.steps.length === 1 ? '' : 's'} in its edit chain, which continues here.`);
  } catch (e) {
    notes.push(`The edit chain in this file is damaged (${(e as Error).message.slice(0, 200)}); only the picture was opened.`);
  }
  const note = notes.join(' ') || `Opened ${fileName} (${image.width}×${image.height}).`;
  return { image, format, chain, settingsJson: settings ? settingsToJson(settings) : null, note: note.slice(0, 1000) };
}
