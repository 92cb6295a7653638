// The Canvas workspace's session against the real host (tiny bundle) through an in-process Studio: open
// a real image, run an edit, see candidates staged, accept (undoable) or discard; an edit asked for while
// a generation holds the host's single job slot waits for it instead of being refused, and a waiting edit
// that is cancelled never reaches the host.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StudioApp } from '../../../src/renderer/lib/state/app.svelte';
import { GenerateSession } from '../../../src/renderer/lib/generate-state/session.svelte';
import { CanvasSession } from '../../../src/renderer/lib/canvas-state/session.svelte';
import { regionCrop } from '../../../src/renderer/lib/canvas-state/geometry';
import { PHOTO, startedApp, until, type InProcessStudio } from './in-process-studio';

let studio: InProcessStudio;
let app: StudioApp;
let canvas: CanvasSession;

beforeEach(async () => {
  ({ studio, app } = await startedApp({ seed: 77, batch: 2 }));
  canvas = new CanvasSession(app);
  expect(await canvas.openFile(new File([readFileSync(PHOTO)], 'fashion.png', { type: 'image/png' }))).toBe(true);
  canvas.fillMask();
});

afterEach(async () => {
  canvas.dispose();
  app.dispose();
  await studio.close();
});

/** Bytes of the document image outside the region box's crop: an edit must leave them as they were. */
function outsideRegion(c: CanvasSession): Uint8Array {
  const d = c.doc!;
  const r = regionCrop(d.region, d.width, d.height)!;
  const out: number[] = [];
  for (let y = 0; y < d.height; y++)
    for (let x = 0; x < d.width; x++) if (x < r.x || x >= r.x + r.width || y < r.y || y >= r.y + r.height) out.push(...d.image.subarray((y * d.width + x) * 3, (y * d.width + x) * 3 + 3));
  return Uint8Array.from(out);
}

describe('CanvasSession', () => {
  it('run → preview per scale → candidates staged (mask hidden, region unlocked) → accept pastes one, undo restores the image', async () => {
    const doc = canvas.doc!;
    expect(doc.width).toBe(72);
    const before = doc.image.slice();
    const outside = outsideRegion(canvas);
    const redraws = canvas.redraws;
    const run = canvas.run();
    expect(canvas.running).toBe(true);
    expect(canvas.regionLocked).toBe(true);
    expect(canvas.canPaint).toBe(false);
    await run;
    await until('candidates', () => canvas.staged !== null);
    expect(canvas.problem).toBeNull();
    expect(canvas.job.preview).toBeNull();
    expect(canvas.job.scalesDone).toBe(app.model!.patchNums.length);
    expect(studio.events.filter((e) => e.type === 'job.scale' && e.jobId === canvas.job.jobId)).toHaveLength(app.model!.patchNums.length);
    expect(canvas.staged!.candidates).toHaveLength(2);
    expect(canvas.regionLocked).toBe(false);
    expect(canvas.maskVisible).toBe(false);
    canvas.cycle(1);
    expect(canvas.job.shownCandidate?.index).toBe(1);
    canvas.accept();
    expect(canvas.staged).toBeNull();
    expect(canvas.maskVisible).toBe(true);
    expect(canvas.redraws).toBeGreaterThan(redraws);
    expect(doc.steps).toHaveLength(1);
    expect(doc.steps[0]).toMatchObject({ op: 'inpaint', seed: 78, classIndex: null });
    expect(Buffer.from(doc.image).equals(Buffer.from(before))).toBe(false);
    expect(Buffer.from(outsideRegion(canvas)).equals(Buffer.from(outside))).toBe(true);
    canvas.undo();
    expect(Buffer.from(doc.image).equals(Buffer.from(before))).toBe(true);
    expect(doc.steps).toHaveLength(0);
  });

  it('discard drops the candidates and leaves the document as it was', async () => {
    const before = canvas.doc!.image.slice();
    await canvas.run();
    await until('candidates', () => canvas.staged !== null);
    canvas.undo(); // refused while candidates wait
    expect(canvas.notice).toMatch(/Accept or discard/);
    canvas.discard();
    expect(canvas.staged).toBeNull();
    expect(canvas.notice).toBe('Candidates discarded.');
    expect(Buffer.from(canvas.doc!.image).equals(Buffer.from(before))).toBe(true);
    expect(canvas.doc!.steps).toHaveLength(0);
  });

  it('an edit asked for during a generation waits for the job slot, then runs; each job\'s events reach only its own session', async () => {
    const gen = new GenerateSession(app);
    app.settings.classIndex = 4;
    await gen.generate();
    const edit = canvas.run();
    expect(canvas.job.status).toBe('starting');
    expect(studio.calls.some((c) => c.kind === 'edit.start')).toBe(false); // held back, not refused
    await edit;
    expect(canvas.problem).toBeNull();
    await until('both jobs', () => gen.run.status === 'done' && canvas.staged !== null);
    const editId = canvas.job.jobId!;
    expect(editId).not.toBe(gen.run.jobId);
    // The edit was sent only after the generation's last event.
    const genDone = studio.events.findIndex((e) => e.type === 'job.done' && e.jobId === gen.run.jobId);
    const editStart = studio.events.findIndex((e) => e.type === 'job.start' && e.jobId === editId);
    expect(genDone).toBeGreaterThanOrEqual(0);
    expect(editStart).toBeGreaterThan(genDone);
    expect(studio.events.some((e) => e.type === 'job.error')).toBe(false);
    expect(gen.gallery.entries.map((e) => e.jobId)).toEqual([gen.run.jobId, gen.run.jobId]);
    expect(canvas.staged!.jobId).toBe(editId);
  });

  it('an edit cancelled while it waits for the slot never reaches the host', async () => {
    const gen = new GenerateSession(app);
    app.settings.classIndex = 4;
    await gen.generate();
    const waiting = canvas.run();
    expect(canvas.job.status).toBe('starting');
    const editId = canvas.job.jobId!;
    canvas.cancel();
    expect(canvas.job.status).toBe('cancelled');
    expect(canvas.regionLocked).toBe(false);
    await waiting;
    await until('the generation', () => gen.run.status === 'done');
    expect(studio.calls.some((c) => c.jobId === editId)).toBe(false);
    expect(canvas.staged).toBeNull();
    expect(app.jobActive).toBe(false);
  });

  it('export reads the document image; the autosave restores the document in a new session', async () => {
    await canvas.exportImage('png');
    expect(canvas.problem).toBeNull();
    expect(canvas.notice).toMatch(/^Saved .*var-edit-fashion\.png \(72×56, edit chain embedded\)/);
    const png = studio.exported[0].bytes;
    const sharp = (await import('sharp')).default;
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([72, 56, 3]);
    expect(Buffer.from(data).equals(Buffer.from(canvas.doc!.image))).toBe(true);
    await canvas.saveNow();
    // A save scheduled by the last change may still be pending; it lands a moment later.
    await until('the autosave', () => canvas.autosave.status.state === 'saved');
    const again = new CanvasSession(app);
    await again.restoreTabs();
    expect(again.doc!.docId).toBe(canvas.doc!.docId);
    expect(Buffer.from(again.doc!.image).equals(Buffer.from(canvas.doc!.image))).toBe(true);
    expect(Buffer.from(again.doc!.mask).equals(Buffer.from(canvas.doc!.mask))).toBe(true);
    expect(again.fits).toBe(1);
    again.dispose();
  });
});
