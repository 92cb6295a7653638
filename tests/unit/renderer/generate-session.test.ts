// The Generate workspace's session against the real host (tiny bundle) through an in-process Studio:
// a run streams into the gallery, events reach only the job that asked, cancel drops the run at once and
// the next run works, and deleting from the gallery is undone by Ctrl+Z.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StudioApp } from '../../../src/renderer/lib/state/app.svelte';
import { GenerateSession } from '../../../src/renderer/lib/generate-state/session.svelte';
import { readFileSync } from 'node:fs';
import { PHOTO, startedApp, until, type InProcessStudio } from './in-process-studio';

let studio: InProcessStudio;
let app: StudioApp;
let gen: GenerateSession;

beforeEach(async () => {
  ({ studio, app } = await startedApp({ seed: 1234, classIndex: 3 }));
  gen = new GenerateSession(app);
});

afterEach(async () => {
  app.dispose();
  await studio.close();
});

describe('GenerateSession', () => {
  it('a run streams every scale, ends in the gallery with the seeds the host used, and frees the job slot', async () => {
    expect(app.model?.id).toBe('embedded');
    app.settings.batch = 2;
    await gen.generate();
    expect(gen.run.active).toBe(true);
    await until('the run to finish', () => gen.run.status === 'done');
    expect(gen.run.scalesDone).toBe(app.model!.patchNums.length);
    expect(gen.gallery.entries.map((e) => e.settings?.seed)).toEqual([1234, 1235]);
    expect(gen.gallery.entries.every((e) => e.jobId === gen.run.jobId && e.origin === 'generated')).toBe(true);
    expect(gen.gallery.entries[0].scalePreviews).toHaveLength(app.model!.patchNums.length);
    expect(gen.shown).toEqual({ kind: 'entry', id: gen.gallery.entries[0].id });
    expect(app.jobs.busy).toBe(false);
    expect(app.jobActive).toBe(false);
  });

  it('the same seed and settings give the same image twice', async () => {
    await gen.generate();
    await until('run 1', () => gen.run.status === 'done');
    await gen.generate();
    await until('run 2', () => gen.run.status === 'done' && gen.gallery.entries.length === 2);
    const [b, a] = gen.gallery.entries;
    expect(a.jobId).not.toBe(b.jobId);
    expect(Buffer.from(b.image.data).equals(Buffer.from(a.image.data))).toBe(true);
  });

  it('cancel drops the run at once; the host ends it, nothing reaches the gallery, and the next run starts without "busy"', async () => {
    const started = gen.generate();
    gen.cancel();
    expect(gen.run.status).toBe('cancelled');
    expect(gen.run.active).toBe(false);
    await started;
    const cancelledId = gen.run.jobId!;
    expect(studio.calls.filter((c) => c.kind === 'generate.cancel').map((c) => c.jobId)).toEqual([cancelledId]);
    // The next run waits for the cancelled job's last event, then starts.
    await gen.generate();
    await until('the next run to finish', () => gen.run.status === 'done');
    expect(studio.events.find((e) => e.type === 'job.cancelled' && e.jobId === cancelledId)).toBeDefined();
    expect(studio.events.some((e) => e.type === 'job.done' && e.jobId === cancelledId)).toBe(false);
    expect(gen.gallery.entries).toHaveLength(1);
    expect(gen.gallery.entries[0].jobId).not.toBe(cancelledId);
  });

  it('deleting a gallery entry is undone (Ctrl+Z) back into its place; the main view leaves a deleted entry', async () => {
    app.settings.batch = 3;
    await gen.generate();
    await until('the run', () => gen.run.status === 'done');
    const ids = gen.gallery.entries.map((e) => e.id);
    gen.show(ids[1]);
    gen.deleteEntry(ids[1]);
    expect(gen.gallery.entries.map((e) => e.id)).toEqual([ids[0], ids[2]]);
    expect(gen.shown).toEqual({ kind: 'run' });
    app.undo();
    expect(gen.gallery.entries.map((e) => e.id)).toEqual(ids);
    app.undo(); // nothing left: the gallery stays as it is
    expect(gen.gallery.entries.map((e) => e.id)).toEqual(ids);
  });

  it('a refused start is an error of that run with the host\'s words, and frees the slot', async () => {
    app.settings.classIndex = 999; // the tiny model has 10 classes
    await gen.generate();
    expect(gen.run.status).toBe('error');
    expect(gen.run.error?.message).toMatch(/class/i);
    expect(app.jobs.busy).toBe(false);
    app.settings.classIndex = 1;
    await gen.generate();
    await until('a good run', () => gen.run.status === 'done');
  });

  it('the gallery is kept by the host: a new page (new app and session) shows the same images, pixels and tokens', async () => {
    app.settings.batch = 2;
    await gen.generate();
    await until('the run', () => gen.run.status === 'done');
    await until('the gallery to be stored', () => studio.calls.some((c) => c.kind === 'gallery.add'));
    const before = gen.gallery.entries;
    const app2 = new StudioApp(studio);
    await app2.start();
    const gen2 = new GenerateSession(app2);
    await until('the gallery to load', () => gen2.gallery.entries.length === 2);
    expect(gen2.gallery.entries.map((e) => e.id)).toEqual(before.map((e) => e.id));
    expect([...gen2.gallery.entries[1].image.data]).toEqual([...before[1].image.data]);
    expect(gen2.gallery.entries[1].tokens.map((t) => [...t])).toEqual(before[1].tokens.map((t) => [...t]));
    expect(gen2.gallery.entries[1].settings?.seed).toBe(1235);
    // A deletion reaches the host too.
    await gen2.deleteEntries([before[0].id]);
    const gen3 = new GenerateSession(app2);
    await until('the gallery to load again', () => gen3.gallery.entries.length === 1);
    expect(gen3.gallery.entries[0].id).toBe(before[1].id);
    app2.dispose();
  });

  it('Generate during a run queues it (FIFO); a queued run can be moved or removed; each runs with its own settings', async () => {
    app.settings.batch = 1;
    await gen.generate();
    app.settings.seed = 7;
    await gen.generate();
    app.settings.seed = 8;
    await gen.generate();
    app.settings.seed = 9;
    await gen.generate();
    expect(gen.queue.map((q) => q.settings.seed)).toEqual([7, 8, 9]);
    expect(app.hasUnsavedWork).toBe(true);
    gen.moveQueued(gen.queue[2].id, -1);
    gen.removeQueued(gen.queue[0].id);
    expect(gen.queue.map((q) => q.settings.seed)).toEqual([9, 8]);
    await until('the queue to drain', () => gen.queue.length === 0 && gen.run.status === 'done' && gen.gallery.entries.length === 3, 60_000);
    // Newest first: the last to run (seed 8) is on top.
    expect(gen.gallery.entries.map((e) => e.settings?.seed)).toEqual([8, 9, 1234]);
    expect(app.hasUnsavedWork).toBe(false);
  });

  it('an opened image gets the model\'s tokens, so it can be varied from a scale', async () => {
    await gen.openFile(new File([readFileSync(PHOTO)], 'fashion.png', { type: 'image/png' }));
    const opened = gen.gallery.entries.find((e) => e.origin === 'opened')!;
    expect(opened.tokens).toHaveLength(app.model!.patchNums.length);
    expect(opened.tokensModelId).toBe(app.model!.id);
    opened.tokens.forEach((t, k) => expect(t.length).toBe(app.model!.patchNums[k] ** 2));
    await gen.varyFrom(opened, 2);
    await until('the varied run', () => gen.run.status === 'done');
    const varied = gen.gallery.entries[0];
    expect(varied.settings?.prefix?.fromScale).toBe(2);
    expect(varied.tokens.slice(0, 2).map((t) => [...t])).toEqual(opened.tokens.slice(0, 2).map((t) => [...t]));
  });

  it('redo (Ctrl+Shift+Z) does again what undo took back, for settings and deletions', async () => {
    app.changeSettings('cfg 3', (s) => (s.cfg = 3));
    app.undo();
    expect(app.settings.cfg).not.toBe(3);
    app.redo();
    expect(app.settings.cfg).toBe(3);
    await gen.generate();
    await until('the run', () => gen.run.status === 'done');
    const id = gen.gallery.entries[0].id;
    await gen.deleteEntries([id]);
    app.undo();
    expect(gen.gallery.entries.map((e) => e.id)).toContain(id);
    app.redo();
    expect(gen.gallery.entries.map((e) => e.id)).not.toContain(id);
  });
});
