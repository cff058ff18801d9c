/**
 * The body of a scoring worker thread: one model copy per worker (the
 * serving note), so model math never runs on the event loop that serves
 * Kafka heartbeats. Messages (from ScoringPool):
 *   { type: 'load', id, version, bytes }   load a version (kept until 'drop')
 *   { type: 'drop', id, version }          forget a version
 *   { type: 'score', id, version, requests }   -> { id, results }
 *   { type: 'embed', id, version, items }      -> { id, embeddings }
 * Every reply is { id, ok: true, ... } or { id, ok: false, error: { code, message } }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from './backend.ts';
import { CtrModel } from './ctr-model.ts';
import { Scorer, type HeadEngine, type ScoreRequest } from './scorer.ts';
import type { ItemContent } from './towers.ts';

interface WorkerInit {
  backend: BackendChoice;
  engine: HeadEngine;
}

type Msg =
  | { type: 'load'; id: number; version: string; bytes: Uint8Array }
  | { type: 'drop'; id: number; version: string }
  | { type: 'score'; id: number; version: string; requests: ScoreRequest[] }
  | { type: 'embed'; id: number; version: string; items: ItemContent[] };

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('scoring-worker.ts must run in a worker thread');
const backendReady = initBackend(init.backend);
const scorers = new Map<string, Scorer>();

function scorer(version: string): Scorer {
  const s = scorers.get(version);
  if (!s)
    throw Object.assign(new Error(`model version ${version} is not loaded in this worker`), {
      code: 'CTR_ML_WORKER',
    });
  return s;
}

port.on('message', (msg: Msg) => {
  void (async () => {
    try {
      const backend = await backendReady;
      switch (msg.type) {
        case 'load': {
          if (!scorers.has(msg.version)) {
            const model = CtrModel.fromBuffer(msg.bytes, `model version ${msg.version}`);
            scorers.set(msg.version, new Scorer(model, msg.version, init.engine));
          }
          port.postMessage({ id: msg.id, ok: true, backend });
          return;
        }
        case 'drop': {
          scorers.get(msg.version)?.dispose();
          scorers.delete(msg.version);
          port.postMessage({ id: msg.id, ok: true });
          return;
        }
        case 'score': {
          const t0 = performance.now();
          const results = scorer(msg.version).score(msg.requests);
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
