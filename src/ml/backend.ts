/**
 * Tensor backend selection. Order of preference (config `ml.backend`, env
 * CTR_ML_BACKEND): `tensorflow` (native @tensorflow/tfjs-node, an optional
 * dependency that only installs where libtensorflow can be had), `wasm`
 * (XNNPACK SIMD, loads offline from node_modules), `cpu` (pure JS, last
 * resort). `auto` takes the first that starts. The choice is logged and
 * returned so every benchmark can name it.
 *
 * Also registers the kernel tfjs lacks: UnsortedSegmentSum (the gradient of
 * tf.gather). wasm has none, and the cpu one loops once per segment over the
 * whole input (hours for an embedding table). Ours is one linear scatter-add.
 */
import * as tf from '@tensorflow/tfjs';
import { createLogger } from '../telemetry/logger.ts';
import { BackendError } from './errors.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';

const log = createLogger('ml-backend');
let current: Promise<BackendName> | undefined;
let currentChoice: BackendChoice | undefined;

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      // optional dependency: absent on machines without libtensorflow
      const mod = '@tensorflow/tfjs-node';
      // TensorFlow prints oneDNN/CPU-feature banners on stderr at load; the
      // chosen backend is logged by us instead (override by setting it)
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
      await import(mod);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch (cause) {
    log.debug({ backend: name, err: String(cause) }, 'backend unavailable');
    return false;
  }
}

/**
 * Selects and initialises the tensor backend once per thread (later calls
 * return the first result; a different explicit choice re-selects).
 * @param choice `auto` (default: env CTR_ML_BACKEND, else tensorflow > wasm > cpu) or a name.
 * @returns the backend in use.
 * @throws BackendError when an explicitly chosen backend cannot start.
 */
export function initBackend(
  choice: BackendChoice = (process.env.CTR_ML_BACKEND as BackendChoice | undefined) ?? 'auto',
): Promise<BackendName> {
  // `auto` honours CTR_ML_BACKEND wherever it is passed explicitly (worker
  // pools pass it through), so one env var picks the backend of a whole process
  const fromEnv = process.env.CTR_ML_BACKEND as BackendChoice | undefined;
  if (choice === 'auto' && fromEnv && fromEnv !== 'auto') choice = fromEnv;
  if (current && (choice === currentChoice || choice === 'auto')) return current;
  currentChoice = choice;
  current = (async () => {
    const order: BackendName[] = choice === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [choice];
    for (const name of order) {
      if (await tryBackend(name)) {
        registerSegmentSumKernels();
        log.info({ backend: name, requested: choice }, 'tensor backend selected');
        return name;
      }
    }
    throw new BackendError(`tensor backend "${choice}" could not start (tried ${order.join(', ')})`);
  })();
  return current;
}

let registered = false;

/**
 * Registers a linear-time UnsortedSegmentSum for the wasm and cpu backends
 * (replacing cpu's per-segment loop). Idempotent.
 */
export function registerSegmentSumKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm', 'cpu']) {
    if (tf.getKernel('UnsortedSegmentSum', backendName))
      tf.unregisterKernel('UnsortedSegmentSum', backendName);
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        const x = inputs.x as tf.TensorInfo;
        const seg = inputs.segmentIds as tf.TensorInfo;
        const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
        const b = backend as any;
        const read = (t: tf.TensorInfo): ArrayLike<number> =>
          backendName === 'wasm' ? b.typedArrayFromHeap(t) : b.data.get(t.dataId).values;
        const xs = read(x);
        const ids = read(seg);
        const inner = x.shape.slice(seg.shape.length).reduce((a, c) => a * c, 1);
        const shape = [numSegments, ...x.shape.slice(seg.shape.length)];
        const out = new Float32Array(numSegments * inner);
        const n = ids.length;
        for (let i = 0; i < n; i++) {
          const s = ids[i] as number;
          if (s < 0 || s >= numSegments) continue;
          const so = s * inner;
          const xo = i * inner;
          for (let j = 0; j < inner; j++) out[so + j] = (out[so + j] as number) + (xs[xo + j] as number);
        }
        if (backendName === 'wasm') {
          const info = b.makeOutput(shape, 'float32');
          (b.typedArrayFromHeap(info) as Float32Array).set(out);
          return info;
        }
        return b.makeTensorInfo(shape, 'float32', out);
      },
    });
  }
}

/** The backend currently in use on this thread (after initBackend). */
export function backendName(): string {
  return tf.getBackend();
}
