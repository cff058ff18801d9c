import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesSerde, stringSerde } from '../../../../src/streams/serde/index.ts';
import {
  SharedCacheBudget,
  WindowStores,
  type StateStoreContext,
  type WindowStore,
  type Windowed,
} from '../../../../src/streams/state/index.ts';
import { SegmentedWindowBytesStore } from '../../../../src/streams/state/window-segmented-store.ts';
import { MeteredWindowStore } from '../../../../src/streams/state/window-metered-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function context(
  changelog: Array<{ key: Buffer; value: Buffer | null }> = [],
  taskDir?: string,
): StateStoreContext {
  const dir = taskDir ?? mkdtempSync(join(tmpdir(), 'ctr-window-store-'));
  if (taskDir === undefined) dirs.push(dir);
  return {
    applicationId: 'app',
    taskId: '0_0',
    partition: 0,
    taskDir: dir,
    collector: { send: (_t, _p, key, value) => void changelog.push({ key, value }) },
    cacheBudget: new SharedCacheBudget(1024 * 1024),
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const flat = (entries: Array<readonly [Windowed<string>, string]>) =>
  entries.map(([w, v]) => [w.key, w.window.startMs, v]);

for (const persistent of [true, false]) {
  describe(`window store (${persistent ? 'LevelDB' : 'in-memory'} segments)`, () => {
    it('answers a time range of one key and a key range of one window', async () => {
      const store = WindowStores.windowStoreBuilder('w', stringSerde, stringSerde, {
        retentionMs: 1_000_000,
        windowSizeMs: 10,
        persistent,
      }).build();
      await store.init(context());
      await store.putAll([
        ['b', 'b0', 0],
        ['a', 'a10', 10],
        ['c', 'c10', 10],
        ['b', 'b10', 10],
        ['d', 'd10', 10],
        ['b', 'b20', 20],
        ['b', 'b30', 30],
      ]);
      assert.deepEqual(await collect(store.fetchRange('b', 10, 20)), [
        [10, 'b10'],
        [20, 'b20'],
      ]);
      assert.deepEqual(flat(await collect(store.fetchKeyRange('b', 'c', 10, 10))), [
        ['b', 10, 'b10'],
        ['c', 10, 'c10'],
      ]);
      assert.deepEqual(
        flat(await collect(store.fetchAll(10, 10))).map((r) => r[0]),
        ['a', 'b', 'c', 'd'],
      );
      assert.deepEqual(
        await store.fetchMany([
          ['b', 20],
          ['a', 20],
          ['d', 10],
        ]),
        ['b20', undefined, 'd10'],
      );
      const [first] = await collect(store.fetchKeyRange('a', 'a', 10, 10));
      assert.deepEqual(first![0].window, { startMs: 10, endMs: 20 });
      await store.put('b', null, 20);
      assert.deepEqual(
        (await collect(store.fetchRange('b', 0, 100))).map((e) => e[0]),
        [0, 10, 30],
      );
      await store.close();
    });

    it('never returns a longer key that starts with the asked key (keys are not length-prefixed)', async () => {
      const store = WindowStores.windowStoreBuilder('w', bytesSerde, stringSerde, {
        retentionMs: 1_000_000,
        windowSizeMs: 10,
        persistent,
      }).build();
      await store.init(context());
      const a = Buffer.from('a');
      // "a" followed by bytes that sort like a timestamp inside the range
      const tricky = Buffer.concat([a, Buffer.from([0, 0, 0, 0, 0, 0, 0, 15])]);
      await store.putAll([
        [a, 'a', 10],
        [tricky, 'tricky', 0],
        [Buffer.from('ab'), 'ab', 10],
      ]);
      assert.deepEqual(await collect(store.fetchRange(a, 0, 100)), [[10, 'a']]);
      assert.deepEqual(
        (await collect(store.fetchKeyRange(a, a, 10, 10))).map(([w, v]) => [w.key.toString('hex'), v]),
        [['61', 'a']],
      );
      await store.close();
    });

    it('keeps duplicates when asked (the join buffers): two puts of one key and time are two entries', async () => {
      const store = WindowStores.windowStoreBuilder('j', stringSerde, stringSerde, {
        retentionMs: 1_000,
        windowSizeMs: 0,
        retainDuplicates: true,
        persistent,
      }).build();
      await store.init(context());
      await store.putAll([
        ['k', 'first', 5],
        ['k', 'second', 5],
      ]);
      await store.put('k', 'third', 5);
      assert.deepEqual(await collect(store.fetchRange('k', 5, 5)), [
        [5, 'first'],
        [5, 'second'],
        [5, 'third'],
      ]);
      await store.close();
    });
  });
}

describe('window store retention', () => {
  it('drops whole segments once stream time passes them, and drops writes older than retention', async () => {
    const ctx = context();
    const inner = new SegmentedWindowBytesStore('r', {
      retentionMs: 20,
      segmentIntervalMs: 10,
      persistent: true,
      suffixBytes: 4,
    });
    const store = new MeteredWindowStore(inner, stringSerde, stringSerde, 1, false);
    await store.init(ctx);
    for (let t = 0; t < 50; t++) await store.put('k', `v${t}`, t);
    // stream time 49, retention 20: times >= 30 live; segments are 10 ms: [30, 40) and [40, 50) remain
    assert.deepEqual(inner.liveSegments(), [3, 4]);
    assert.deepEqual(
      readdirSync(join(ctx.taskDir, 'r')).sort(),
      ['r.30', 'r.40', 'r.meta'],
      'the dropped segments are deleted from disk',
    );
    assert.equal((await collect(store.fetchRange('k', 0, 100)))[0]![0], 30);
    await store.put('k', 'late', 29);
    assert.equal(inner.expiredWrites, 1);
    assert.equal(await store.fetch('k', 29), undefined);
    await store.close();
  });
});

describe('window store durability', () => {
  it('logs every write, commits data with the changelog position, and a fresh store restored from the changelog answers the same', async () => {
    const changelog: Array<{ key: Buffer; value: Buffer | null }> = [];
    const dir = mkdtempSync(join(tmpdir(), 'ctr-window-durable-'));
    dirs.push(dir);
    const build = (): WindowStore<string, string> =>
      WindowStores.windowStoreBuilder('d', stringSerde, stringSerde, {
        retentionMs: 3_600_000,
        windowSizeMs: 60_000,
        segmentIntervalMs: 60_000,
      }).build();
    const store = build();
    await store.init(context(changelog, dir));
    assert.equal(store.changelogTopic, 'app-d-changelog');
    await store.putAll([
      ['x', '1', 0],
      ['y', '2', 60_000],
      ['x', '3', 120_000],
    ]);
    await store.put('y', null, 60_000);
    assert.equal(changelog.length, 4);
    await store.flush();
    await store.commit('4');
    await store.close();

    // reopened: the data and the position survived together
    const reopened = build();
    await reopened.init(context([], dir));
    assert.equal(await reopened.committedPosition(), '4');
    const expected = [
      ['x', 0, '1'],
      ['x', 120_000, '3'],
    ];
    assert.deepEqual(flat(await collect(reopened.all())), expected);
    await reopened.close();

    // a new machine: restored from the changelog alone
    const restored = build();
    await restored.init(context());
    assert.equal(await restored.committedPosition(), undefined, 'an empty store restores fully');
    await restored.restoreBatch(changelog.slice(0, 2), '2');
    await restored.restoreBatch(changelog.slice(2), '4');
    assert.equal(await restored.committedPosition(), '4');
    assert.deepEqual(flat(await collect(restored.all())), expected);
    await restored.wipe();
    assert.deepEqual(await collect(restored.all()), []);
    assert.equal(await restored.committedPosition(), undefined);
    await restored.close();
  });
});

describe('session store', () => {
  it('finds the sessions a record at t merges with: end >= t - gap and start <= t + gap', async () => {
    const store = WindowStores.sessionStoreBuilder('s', stringSerde, stringSerde, {
      retentionMs: 1_000_000,
    }).build();
    await store.init(context());
    const s = (startMs: number, endMs: number): Windowed<string> => ({
      key: 'k',
      window: { startMs, endMs },
    });
    await store.putAll([
      [s(0, 5), 'A'],
      [s(20, 30), 'B'],
      [s(50, 50), 'C'],
      [{ key: 'other', window: { startMs: 22, endMs: 22 } }, 'X'],
    ]);
    const found = await store.findSessions('k', 25 - 10, 25 + 10);
    assert.deepEqual(
      found.map(([w, v]) => [w.window.startMs, w.window.endMs, v]),
      [[20, 30, 'B']],
    );
    assert.equal(await store.fetchSession('k', 50, 50), 'C');
    await store.remove(s(20, 30));
    assert.deepEqual(
      (await collect(store.fetch('k'))).map(([, v]) => v),
      ['A', 'C'],
    );
    await store.close();
  });
});

describe('window store changelogs', () => {
  it('are compact,delete with retention.ms = store retention + 1 day, so expired windows leave the topic too', async () => {
    const { StreamsBuilder, Consumed, TimeWindows, Materialized } =
      await import('../../../../src/streams/topology/index.ts');
    const builder = new StreamsBuilder();
    builder
      .stream('clicks', Consumed.with(stringSerde, stringSerde))
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(60_000, 10_000))
      .count(Materialized.as('per-minute'));
    const specs = builder.build().internalTopics('app');
    const changelog = specs.find((s) => s.name === 'app-per-minute-changelog');
    assert.deepEqual(changelog?.config, {
      'cleanup.policy': 'compact,delete',
      'retention.ms': String(60_000 + 10_000 + 1 + 24 * 3_600_000),
    });
  });
});
