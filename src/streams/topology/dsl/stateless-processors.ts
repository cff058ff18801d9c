/**
 * The DSL's per-record operators, lifted over the batch: each runs its
 * function over every record of the batch it receives and forwards the
 * results as one batch. No promise per record.
 */
import type { Processor, ProcessorContext } from '../../processor/processor.ts';
import type { StreamRecord } from '../../processor/record.ts';

type Rec = StreamRecord<any, any>;

/** Runs `step` over each batch; `step` pushes what to forward into `out`. */
function lifted(
  step: (records: ReadonlyArray<Rec>, out: Rec[]) => void,
): () => Processor<any, any, any, any> {
  return () => {
    let context: ProcessorContext<any, any>;
    return {
      init(ctx) {
        context = ctx;
      },
      process(records) {
        const out: Rec[] = [];
        step(records, out);
        if (out.length > 0) context.forward(out);
      },
    };
  };
}

export function filterProcessor<K, V>(predicate: (key: K, value: V) => boolean, keepWhen: boolean) {
  return lifted((records, out) => {
    for (const r of records) if (Boolean(predicate(r.key, r.value)) === keepWhen) out.push(r);
  });
}

export function mapProcessor<K, V, KR, VR>(mapper: (key: K, value: V) => readonly [KR, VR]) {
  return lifted((records, out) => {
    for (const r of records) {
      const [key, value] = mapper(r.key, r.value);
      out.push({ ...r, key, value });
    }
  });
}

export function mapValuesProcessor<K, V, VR>(mapper: (value: V, key: K) => VR) {
  return lifted((records, out) => {
    for (const r of records) out.push({ ...r, value: mapper(r.value, r.key) });
  });
}

export function flatMapProcessor<K, V, KR, VR>(mapper: (key: K, value: V) => Iterable<readonly [KR, VR]>) {
  return lifted((records, out) => {
    for (const r of records)
      for (const [key, value] of mapper(r.key, r.value)) out.push({ ...r, key, value });
  });
}

export function flatMapValuesProcessor<K, V, VR>(mapper: (value: V, key: K) => Iterable<VR>) {
  return lifted((records, out) => {
    for (const r of records) for (const value of mapper(r.value, r.key)) out.push({ ...r, value });
  });
}

export function peekProcessor<K, V>(action: (key: K, value: V) => void) {
  return lifted((records, out) => {
    for (const r of records) {
      action(r.key, r.value);
      out.push(r);
    }
  });
}

export function selectKeyProcessor<K, V, KR>(selector: (key: K, value: V) => KR) {
  return lifted((records, out) => {
    for (const r of records) out.push({ ...r, key: selector(r.key, r.value) });
  });
}

/** Forwards what it receives (merge, branch children, KTable.toStream). */
export function passThroughProcessor() {
  return lifted((records, out) => {
    for (const r of records) out.push(r);
  });
}

/**
 * split(): each record goes to the first branch whose predicate holds, else
 * to the default branch (when there is one), else it is dropped.
 */
export function branchProcessor<K, V>(
  predicates: ReadonlyArray<(key: K, value: V) => boolean>,
  childNames: readonly string[],
  defaultChild: string | undefined,
): () => Processor<K, V, K, V> {
  return () => {
    let context: ProcessorContext<K, V>;
    return {
      init(ctx) {
        context = ctx;
      },
      process(records) {
        const batches: Array<StreamRecord<K, V>[]> = childNames.map(() => []);
        const defaults: StreamRecord<K, V>[] = [];
        for (const r of records) {
          let matched = false;
          for (let i = 0; i < predicates.length; i++) {
            if (predicates[i]!(r.key, r.value)) {
              batches[i]!.push(r);
              matched = true;
              break;
            }
          }
          if (!matched && defaultChild !== undefined) defaults.push(r);
        }
        for (let i = 0; i < childNames.length; i++)
          if (batches[i]!.length > 0) context.forward(batches[i]!, childNames[i]);
        if (defaultChild !== undefined && defaults.length > 0) context.forward(defaults, defaultChild);
      },
    };
  };
}
