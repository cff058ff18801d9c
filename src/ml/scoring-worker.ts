/**
 * The body of a scoring worker thread: one model copy per worker (the
 * serving note), so model math never runs on the event loop that serves
 * Kafka heartbeats. Messages (from ScoringPool):
 *   { type: 'load', id, version, bytes }   load a version (kept until 'drop')
 *   { type: 'drop', id, version }          forget a version and its item-part table
 *   { type: 'table', version, partSize, chunkSlots, chunks }   (no reply) more
 *                                          chunks of the version's item-part table
 *   { type: 'score', id, version, requests }   -> { id, results } (plain or planned requests)
 *   { type: 'embed', id, version, items }      -> { id, embeddings }
 *   { type: 'crash', how }                 (no reply) die on purpose: fault drills and tests
 * Every reply is { id, ok: true, ... } or { id, ok: false, error: { code, message } }.
 * Messages on a port arrive in order, so a 'table' message sent before a
 * 'score' that needs its chunks is always handled first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from './backend.ts';
import { CtrModel } from './ctr-model.ts';
import { Scorer, type HeadEngine, type WireRequest } from './scorer.ts';
import { ItemPartView, type ItemPartChunk } from './item-part-view.ts';
import type { ItemContent } from './towers.ts';

interface WorkerInit {
  backend: BackendChoice;
  engine: HeadEngine;
}

type Msg =
  | { type: 'load'; id: number; version: string; bytes: Uint8Array }
  | { type: 'drop'; id: number; version: string }
  | { type: 'table'; version: string; partSize: number; chunkSlots: number; chunks: ItemPartChunk[] }
  | { type: 'score'; id: number; version: string; requests: WireRequest[] }
  | { type: 'embed'; id: number; version: string; items: ItemContent[] }
  | { type: 'crash'; how: 'throw' | 'exit' };

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('scoring-worker.ts must run in a worker thread');
const backendReady = initBackend(init.backend);
const scorers = new Map<string, Scorer>();
const views = new Map<string, ItemPartView>();

function scorer(version: string): Scorer {
  const s = scorers.get(version);
  if (!s)
    throw Object.assign(new Error(`model version ${version} is not loaded in this worker`), {
      code: 'CTR_ML_WORKER',
    });
  return s;
}

port.on('message', (msg: Msg) => {
  // synchronous messages first: they must take effect before any later message is handled
  if (msg.type === 'table') {
    let view = views.get(msg.version);
    if (!view) {
      view = new ItemPartView(msg.version, msg.partSize, msg.chunkSlots);
      views.set(msg.version, view);
    }
    view.addChunks(msg.chunks);
    return;
  }
  if (msg.type === 'crash') {
    if (msg.how === 'exit') process.exit(70);
    // an uncaught exception outside any handler: the thread dies with an 'error' event, as on a real bug
    setImmediate(() => {
      throw new Error('scoring worker crash requested (fault drill)');
    });
    return;
  }
  void (async () => {
    try {
      const backend = await backendReady;
      switch (msg.type) {
        case 'load': {
          let s = scorers.get(msg.version);
          if (!s) {
            const model = CtrModel.fromBuffer(msg.bytes, `model version ${msg.version}`);
            s = new Scorer(model, msg.version, init.engine);
            scorers.set(msg.version, s);
          }
          // the pool plans item-part tables on its thread without parsing the model: it needs these shapes
          const { itemFields, itemNumeric, embeddingDim } = s.model.config.spec;
          port.postMessage({
            id: msg.id,
            ok: true,
            backend,
            partSize: s.model.head.partSize,
            spec: { itemFields, itemNumeric, embeddingDim },
          });
          return;
        }
        case 'drop': {
          scorers.get(msg.version)?.dispose();
          scorers.delete(msg.version);
          views.delete(msg.version);
          port.postMessage({ id: msg.id, ok: true });
          return;
        }
        case 'score': {
          const t0 = performance.now();
          const results = scorer(msg.version).scoreWire(msg.requests, views.get(msg.version));
          const transfer: ArrayBuffer[] = [];
          for (const r of results) {
            transfer.push(r.scores.buffer as ArrayBuffer);
            if (r.itemParts) transfer.push(r.itemParts.parts.buffer as ArrayBuffer);
          }
          port.postMessage({ id: msg.id, ok: true, results, computeMs: performance.now() - t0 }, transfer);
          return;
        }
        case 'embed': {
          // slice: never transfer a view that might share the backend's heap
          const embeddings = scorer(msg.version).model.embed(msg.items).slice();
          port.postMessage({ id: msg.id, ok: true, embeddings }, [embeddings.buffer as ArrayBuffer]);
          return;
        }
      }
    } catch (e) {
      const err = e as { code?: string; message?: string };
      port.postMessage({
        id: msg.id,
        ok: false,
        error: { code: err.code ?? 'CTR_ML_WORKER', message: err.message ?? String(e) },
      });
    }
  })();
});
