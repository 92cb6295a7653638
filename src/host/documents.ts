// The canvas document on the host (issue 6): autosave to the app's data folder and restore after a
// reload, crash or restart; opening an image into the canvas; export of the edited image with its edit
// chain. Images travel gzip-packed (raw RGB / one byte per mask pixel): exact and small on the wire.
// Writes are crash-safe: data files get fresh names, document.json is replaced last by a rename.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import {
  EDIT_CHAIN_KEY, EDIT_LIMITS, documentMetaSchema, editChainFromJson, editChainToJson, upgradeDocumentMeta,
  type CanvasOpenResult, type DocumentExportParams, type DocumentMeta, type DocumentRestoreResult, type DocumentSaveParams, type EditChain,
} from '../shared/edit';
import { SETTINGS_KEY, describeSettings, settingsFromJson, settingsToJson } from '../shared/settings';
import type { ImageSettings } from '../shared/contract';
import { decodeImage, type RgbImage } from '../engine/index';
import { StudioError } from '../shared/errors';
import { EXTENSION, MIME, readPngText, settingsFromXmp, withPngText } from './image-io';

/** Browser mode's data folder (Electron passes its userData folder). VAR_STUDIO_DATA_DIR overrides it (tests). */
export function defaultDataDir(): string {
  return process.env.VAR_STUDIO_DATA_DIR ? path.resolve(process.env.VAR_STUDIO_DATA_DIR) : path.join(os.homedir(), '.var-studio');
}

/** Inflates a packed buffer and checks it holds exactly `expected` bytes. */
export function unpack(packed: Uint8Array, expected: number, what: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = gunzipSync(packed, { maxOutputLength: expected + 1 });
  } catch (e) {
    throw new StudioError('bad-document', `The ${what} is not a valid gzip stream of ${expected} bytes (${(e as Error).message}).`, 'Reload the page; if it persists, open the image again.');
  }
  if (raw.length !== expected) throw new StudioError('bad-document', `The ${what} holds ${raw.length} bytes; ${expected} were expected.`, 'Reload the page; if it persists, open the image again.');
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

interface StoredDocument { meta: DocumentMeta; imageFile: string; maskFile: string }

const INDEX = 'document.json';

export class DocumentStore {
  readonly dir: string;
  private saving: Promise<unknown> = Promise.resolve();
  private counter = 0;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'canvas');
  }

  private async readIndex(): Promise<StoredDocument | null> {
    let text: string;
    try {
      text = await fs.readFile(path.join(this.dir, INDEX), 'utf8');
    } catch {
      return null;
    }
    const raw = JSON.parse(text) as { meta?: unknown; imageFile?: unknown; maskFile?: unknown };
    const meta = documentMetaSchema.parse(upgradeDocumentMeta(raw.meta), 'document.json meta');
    const fileName = /^[a-z]+-[A-Za-z0-9_-]+\.gz$/;
    if (typeof raw.imageFile !== 'string' || !fileName.test(raw.imageFile) || typeof raw.maskFile !== 'string' || !fileName.test(raw.maskFile))
      throw new Error('document.json names no valid data files');
    return { meta, imageFile: raw.imageFile, maskFile: raw.maskFile };
  }

  /** Saves one autosave; calls are serialised so an older save never lands after a newer one. */
  save(p: DocumentSaveParams): Promise<{ saved: boolean; imageRev: number; bytes: number }> {
    const run = this.saving.then(() => this.saveNow(p));
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async saveNow(p: DocumentSaveParams): Promise<{ saved: boolean; imageRev: number; bytes: number }> {
    const { meta } = p;
    const pixels = meta.width * meta.height;
    unpack(p.mask, pixels, 'autosaved mask');
    if (p.image) unpack(p.image, pixels * 3, 'autosaved image');
    await fs.mkdir(this.dir, { recursive: true });
    let old: StoredDocument | null = null;
    try {
      old = await this.readIndex();
    } catch {
      old = null; // a damaged index is replaced by this save
    }
    let imageFile: string;
    if (p.image) {
      imageFile = `image-${this.uniqueName()}.gz`;
      await this.writeFile(imageFile, p.image);
    } else if (old && old.meta.docId === meta.docId && old.meta.imageRev === meta.imageRev && old.meta.width === meta.width && old.meta.height === meta.height) {
      imageFile = old.imageFile;
    } else {
      return { saved: false, imageRev: old && old.meta.docId === meta.docId ? old.meta.imageRev : 0, bytes: 0 };
    }
    const maskFile = `mask-${this.uniqueName()}.gz`;
    await this.writeFile(maskFile, p.mask);
    const index: StoredDocument = { meta, imageFile, maskFile };
    await this.writeFile(INDEX, Buffer.from(JSON.stringify(index)));
    // The index now names the new files; the old ones can go.
    for (const f of old ? [old.imageFile, old.maskFile] : []) if (f !== imageFile && f !== maskFile) await fs.rm(path.join(this.dir, f), { force: true });
    return { saved: true, imageRev: meta.imageRev, bytes: (p.image?.length ?? 0) + p.mask.length };
  }

  private uniqueName(): string {
    this.counter += 1;
    return `${Date.now().toString(36)}-${process.pid}-${this.counter}`;
  }

  private async writeFile(name: string, data: Uint8Array): Promise<void> {
    const tmp = path.join(this.dir, `.${name}.tmp`);
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, path.join(this.dir, name));
  }

  async restore(): Promise<DocumentRestoreResult> {
    await this.saving;
    let stored: StoredDocument | null;
    try {
      stored = await this.readIndex();
    } catch (e) {
      return { document: null, problem: await this.quarantine(`The autosaved canvas could not be read (${(e as Error).message}).`) };
    }
    if (!stored) return { document: null, problem: null };
    try {
      const image = new Uint8Array(await fs.readFile(path.join(this.dir, stored.imageFile)));
      const mask = new Uint8Array(await fs.readFile(path.join(this.dir, stored.maskFile)));
      const pixels = stored.meta.width * stored.meta.height;
      unpack(image, pixels * 3, 'autosaved image');
      unpack(mask, pixels, 'autosaved mask');
      return { document: { meta: stored.meta, image, mask }, problem: null };
    } catch (e) {
      return { document: null, problem: await this.quarantine(`The autosaved canvas is damaged (${(e as Error).message}).`) };
    }
  }

  /** Moves a damaged autosave aside (nothing is deleted) and says where it went. */
  private async quarantine(message: string): Promise<string> {
    const broken = `${this.dir}.broken-${Date.now().toString(36)}`;
    try {
      await fs.rename(this.dir, broken);
      return `${message} It was moved to ${broken}; the canvas starts empty.`;
    } catch {
      return message;
    }
  }

  async discard(): Promise<boolean> {
    await this.saving;
    let existed = true;
    try {
      await fs.access(path.join(this.dir, INDEX));
    } catch {
      existed = false;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
    return existed;
  }
}

// ---------- opening ----------

const OPENABLE = new Set(['png', 'jpeg', 'webp']);

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
function xmlUnescape(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}

export function editChainFromXmp(xmp: string): EditChain | null {
  const m = /<varstudio:editChain>([\s\S]*?)<\/varstudio:editChain>/.exec(xmp);
  return m ? editChainFromJson(xmlUnescape(m[1])) : null;
}

/** Decodes an image for the canvas (PNG, JPEG or WebP via sharp) with its edit chain / settings if it has them. */
export async function openCanvasImage(bytes: Uint8Array, fileName: string): Promise<CanvasOpenResult> {
  let format: string | undefined;
  let xmp: Buffer | undefined;
  let size: { width?: number; height?: number } = {};
  try {
    // Only the header is read here (no pixel limit), so an oversized image is named as such, not as unreadable.
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    format = meta.format;
    xmp = meta.xmp;
    size = { width: meta.width, height: meta.height };
  } catch (e) {
    throw new StudioError('unreadable-image', `"${fileName}" is not an image that can be read (${(e as Error).message.split('\n')[0]}). The canvas was left as it was.`, 'Open a PNG, JPEG or WebP file.');
  }
  if (!format || !OPENABLE.has(format))
    throw new StudioError('unsupported-image', `"${fileName}" is a ${format ?? 'unknown'} file; the canvas opens PNG, JPEG and WebP. The canvas was left as it was.`, 'Convert the file to PNG, JPEG or WebP first.');
  if (!size.width || !size.height || size.width > EDIT_LIMITS.maxSide || size.height > EDIT_LIMITS.maxSide)
    throw new StudioError('image-too-large', `"${fileName}" is ${size.width}×${size.height} pixels; the canvas opens images up to ${EDIT_LIMITS.maxSide}×${EDIT_LIMITS.maxSide}. The canvas was left as it was.`, `Scale the image down (at most ${EDIT_LIMITS.maxSide} pixels per side) and open it again.`);
  let image: RgbImage;
  try {
    // The engine's decoder: EXIF orientation applied (phone photos stand upright), alpha over white, sRGB.
    image = await decodeImage(bytes);
  } catch (e) {
    throw new StudioError('unreadable-image', `"${fileName}" could not be decoded (${(e as Error).message.split('\n')[0]}). The canvas was left as it was.`, 'The file may be truncated or damaged; open another copy.');
  }
  let settings: ImageSettings | null = null;
  let chain: EditChain | null = null;
  const notes: string[] = [];
  try {
    const text = format === 'png' ? readPngText(bytes) : {};
    const xmpText = format !== 'png' && xmp ? xmp.toString('utf8') : '';
    settings = text[SETTINGS_KEY] ? settingsFromJson(text[SETTINGS_KEY]) : xmpText ? settingsFromXmp(xmpText) : null;
    if (settings) notes.push(`Generated in VAR Studio: ${describeSettings(settings)}.`);
  } catch (e) {
    notes.push(`The generation settings in this file are damaged (${(e as Error).message.slice(0, 200)}).`);
  }
  try {
    const text = format === 'png' ? readPngText(bytes)[EDIT_CHAIN_KEY] : undefined;
    chain = text ? editChainFromJson(text) : format !== 'png' && xmp ? editChainFromXmp(xmp.toString('utf8')) : null;
    if (chain) notes.push(`Edited in VAR Studio: ${chain.steps.length} edit${chain.steps.length === 1 ? '' : 's'} in its edit chain, which continues here.`);
  } catch (e) {
    notes.push(`The edit chain in this file is damaged (${(e as Error).message.slice(0, 200)}); only the picture was opened.`);
  }
  const note = notes.join(' ') || `Opened ${fileName} (${image.width}×${image.height}).`;
  // A compact copy (not a view into a pooled Buffer), so exactly these bytes travel.
  const data = new Uint8Array(image.data);
  return { image: { width: image.width, height: image.height, data }, format, chain, settingsJson: settings ? settingsToJson(settings) : null, note: note.slice(0, 1000) };
}

// ---------- export ----------

export function describeChain(chain: EditChain): string {
  const steps = chain.steps.map((s) => `${s.op}${s.op === 'class-edit' ? ` to ${s.className}` : ''} (seed ${s.seed})`);
  const from = chain.source.kind === 'file' ? `opened from ${chain.source.fileName}` : 'generated in VAR Studio';
  return `Edited in VAR Studio, ${from}; ${steps.length ? steps.join(', ') : 'no model edits'}`.slice(0, 2000);
}

export function editXmp(chain: EditChain): string {
  // The source's generation settings stay inside the chain only: written as the top-level settings they would
  // make "open → Generate" re-create the unedited source and call the edited file a mismatch.
  return (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>' +
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
    '<rdf:Description rdf:about="" xmlns:varstudio="https://var-studio.local/ns/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">' +
    '<xmp:CreatorTool>VAR Studio</xmp:CreatorTool>' +
    `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xmlEscape(describeChain(chain))}</rdf:li></rdf:Alt></dc:description>` +
    `<varstudio:editChain>${xmlEscape(editChainToJson(chain))}</varstudio:editChain>` +
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
  );
}

/** Encodes the full-size edited image with its edit chain (PNG tEXt; XMP for JPEG/WebP), like image.export. */
export async function encodeDocumentExport(p: DocumentExportParams): Promise<{ bytes: Uint8Array; mime: string; fileName: string }> {
  const rgb = unpack(p.image, p.width * p.height * 3, 'exported image');
  if (p.chain.source.kind === 'generated') settingsFromJson(p.chain.source.settingsJson); // refuse a damaged source record
  const pipeline = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: p.width, height: p.height, channels: 3 } });
  let bytes: Uint8Array;
  if (p.format === 'png') {
    const text: Record<string, string> = { [EDIT_CHAIN_KEY]: editChainToJson(p.chain), Software: 'VAR Studio', Description: describeChain(p.chain) };
    bytes = withPngText(await pipeline.png({ compressionLevel: 9 }).toBuffer(), text);
  } else {
    const withMeta = pipeline.withXmp(editXmp(p.chain)).withExif({ IFD0: { Software: 'VAR Studio', ImageDescription: describeChain(p.chain).replace(/[^\x20-\x7e]/g, '?') } });
    bytes = p.format === 'jpeg'
      ? await withMeta.jpeg({ quality: p.quality, chromaSubsampling: p.quality >= 90 ? '4:4:4' : '4:2:0' }).toBuffer()
      : await withMeta.webp({ quality: p.quality }).toBuffer();
  }
  const base = p.fileName.replace(/\.(png|jpe?g|webp)$/i, '');
  // A plain Uint8Array, not a Buffer: JSON.stringify would turn a Buffer into {type, data} before the wire codec sees it.
  return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), mime: MIME[p.format], fileName: `${base}.${EXTENSION[p.format]}` };
}
