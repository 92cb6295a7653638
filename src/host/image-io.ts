// Export (PNG/JPEG/WebP through sharp, settings embedded) and inspection of opened files.
// Runs in Node (Electron main or src/server); never writes to disk itself — callers decide where bytes go.
import sharp, { type Metadata } from 'sharp';
import extractChunks from 'png-chunks-extract';
import encodeChunks from 'png-chunks-encode';
import * as pngText from 'png-chunk-text';
import type { ExportParams, ImageSettings, InspectResult, RgbImageMsg } from '../shared/contract';
import { LIMITS } from '../shared/contract';
import { SETTINGS_KEY, describeSettings, settingsFromJson, settingsToJson } from '../shared/settings';
import { StudioError } from '../shared/errors';

export const MIME: Record<ExportParams['format'], string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };
export const EXTENSION: Record<ExportParams['format'], string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

const XMP_NS = 'https://var-studio.local/ns/1.0/';

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

export function settingsXmp(settings: ImageSettings): string {
  return (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    `<rdf:Description rdf:about="" xmlns:varstudio="${XMP_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">` +
    '<xmp:CreatorTool>VAR Studio</xmp:CreatorTool>' +
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xmlEscape(describeSettings(settings))}</rdf:li></rdf:Alt></dc:description>` +
    `<varstudio:settings>${xmlEscape(settingsToJson(settings))}</varstudio:settings>` +
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
  );
}

export function settingsFromXmp(xmp: string): ImageSettings | null {
  const m = /<varstudio:settings>([\s\S]*?)<\/varstudio:settings>/.exec(xmp);
  return m ? settingsFromJson(xmlUnescape(m[1])) : null;
}

/** Inserts tEXt chunks right after IHDR: libvips ignores tEXt placed after IDAT (toolchain.md). */
export function withPngText(png: Uint8Array, text: Record<string, string>): Uint8Array {
  const chunks = extractChunks(png).filter((c) => !(c.name === 'tEXt' && pngText.decode(c.data).keyword in text));
  if (chunks[0]?.name !== 'IHDR') throw new StudioError('export-failed', 'The PNG encoder produced a file without IHDR first.', 'Try another format.');
  const extra = Object.entries(text).map(([k, v]) => pngText.encode(k, latin1Json(v)));
  return encodeChunks([chunks[0], ...extra, ...chunks.slice(1)]);
}

export function readPngText(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of extractChunks(png)) {
    if (c.name === 'tEXt') {
      const { keyword, text } = pngText.decode(c.data);
      out[keyword] = text;
    }
  }
  return out;
}

export async function encodeExport(p: ExportParams): Promise<{ bytes: Uint8Array; mime: string; fileName: string }> {
  const { image, upscale } = p;
  if (image.width * upscale > LIMITS.maxSide || image.height * upscale > LIMITS.maxSide)
    throw new StudioError('export-too-large', `Upscaling ${image.width}×${image.height} by ${upscale} exceeds ${LIMITS.maxSide} pixels.`, 'Choose a smaller upscale factor.');
  let pipeline = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
  if (upscale > 1) pipeline = pipeline.resize(image.width * upscale, image.height * upscale, { kernel: p.kernel, fit: 'fill' });
  const json = settingsToJson(p.settings);
  let bytes: Uint8Array;
  if (p.format === 'png') {
    const png = await pipeline.png({ compressionLevel: 9 }).toBuffer();
    bytes = withPngText(png, { [SETTINGS_KEY]: json, Software: 'VAR Studio', Description: describeSettings(p.settings) });
  } else {
    const withMeta = pipeline.withXmp(settingsXmp(p.settings)).withExif({ IFD0: { Software: 'VAR Studio', ImageDescription: latin1Json(describeSettings(p.settings)) } });
    bytes = p.format === 'jpeg'
      ? await withMeta.jpeg({ quality: p.quality, chromaSubsampling: p.quality >= 90 ? '4:4:4' : '4:2:0' }).toBuffer()
      : await withMeta.webp({ quality: p.quality }).toBuffer();
  }
  const base = p.fileName.replace(/\.(png|jpe?g|webp)$/i, '');
  // A plain Uint8Array (not a Node Buffer view of a pooled allocation) for the wire and for IPC.
  bytes = new Uint8Array(bytes);
  return { bytes, mime: MIME[p.format], fileName: `${base}.${EXTENSION[p.format]}` };
}

/** Reads an opened file: its pixels (RGB at full size, bounded) and the VAR Studio settings if it carries them. */
export async function inspectImage(bytes: Uint8Array): Promise<InspectResult> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new StudioError('unreadable-image', `This file is not an image that can be read (${(e as Error).message}).`, 'Open a PNG, JPEG or WebP file, for example one exported by VAR Studio.');
  }
  if (!meta.width || !meta.height || meta.width > LIMITS.maxSide || meta.height > LIMITS.maxSide)
    throw new StudioError('image-too-large', `The image is ${meta.width}×${meta.height}; at most ${LIMITS.maxSide}×${LIMITS.maxSide} can be opened.`, 'Scale the image down first.');
  let settings: ImageSettings | null = null;
  let note = 'This image carries no VAR Studio settings.';
  try {
    if (meta.format === 'png') {
      const text = readPngText(bytes);
      if (text[SETTINGS_KEY]) settings = settingsFromJson(text[SETTINGS_KEY]);
    } else if (meta.xmp) {
      settings = settingsFromXmp(meta.xmp.toString('utf8'));
    }
    if (settings) note = `Settings restored: ${describeSettings(settings)}.`;
  } catch (e) {
    note = `The VAR Studio settings in this file are damaged (${(e as Error).message}); only the picture was opened.`;
    settings = null;
  }
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const image: RgbImageMsg = { width: info.width, height: info.height, data: new Uint8Array(data) /* a compact copy, not a view of a pooled buffer */ };
  return { settings, note, image, format: meta.format ?? 'unknown' };
}
