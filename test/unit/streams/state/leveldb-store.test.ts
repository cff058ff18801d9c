/**
 * The LevelDB store's own duties: the uncommitted write buffer
 * (read-your-writes), data + changelog position in one atomic batch,
 * what a crash leaves, restore, wipe, damaged and locked databases.
 */
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { LevelDbKeyValueStore } from '../../../../src/streams/state/leveldb-store.ts';
import { StoreCorruptedError, StoreLockedError } from '../../../../src/streams/state/errors.ts';
import { IllegalStateError } from '../../../../src/streams/errors.ts';
import { b, entries, makeContext, removeDir, tempDir } from './helpers.ts';

describe('LevelDB store', () => {
  let dir: string;
  let open: LevelDbKeyValueStore[];

  async function openStore(name = 'scores'): Promise<LevelDbKeyValueStore> {
    const store = new LevelDbKeyValueStore(name);
    await store.init(makeContext({ taskDir: dir }));
    open.push(store);
    return store;
  }

  async function closeAll(): Promise<void> {
    for (const store of open.splice(0)) await store.close().catch(() => undefined);
  }

  beforeEach(async () => {
    dir = await tempDir();
    open = [];
  });

  afterEach(async () => {
    await closeAll();
    await removeDir(dir);
  });

  it('lives at taskDir/<store name>', async () => {
    const store = await openStore('item-embeddings');
    assert.equal(store.path, join(dir, 'item-embeddings'));
    assert.ok((await readdir(join(dir, 'item-embeddings'))).includes('CURRENT'));
  });

  it('merges uncommitted writes into get, getMany and scans, deletes hiding committed keys', async () => {
    const store = await openStore();
    await store.putAll([
      [b('a'), b('committed-a')],
      [b('c'), b('committed-c')],
      [b('e'), b('committed-e')],
    ]);
    await store.commit('3');
    await store.put(b('b'), b('buffered-b'));
    await store.put(b('c'), b('buffered-c'));
    await store.delete(b('e'));
    await store.put(b('f'), b('buffered-f'));
    assert.equal(store.uncommittedCount(), 4);
    assert.equal((await store.get(b('c')))?.toString(), 'buffered-c');
    assert.equal(await store.get(b('e')), undefined);
    assert.deepEqual(
      (await store.getMany([b('a'), b('b'), b('e'), b('f')])).map((v) => v?.toString()),
      ['committed-a', 'buffered-b', undefined, 'buffered-f'],
    );
    assert.deepEqual(await entries(store.all()), [
      ['a', 'committed-a'],
      ['b', 'buffered-b'],
      ['c', 'buffered-c'],
      ['f', 'buffered-f'],
    ]);
    assert.deepEqual(await entries(store.range(b('b'), b('e'))), [
      ['b', 'buffered-b'],
      ['c', 'buffered-c'],
    ]);
    assert.equal(await store.approximateNumEntries(), 4);
  });

  it('commit writes data and position together: after a reopen they agree, uncommitted writes are gone', async () => {
    const store = await openStore();
    await store.putAll([
      [b('a'), b('1')],
      [b('b'), b('2')],
    ]);
    await store.commit('42');
    assert.equal(store.uncommittedBytes(), 0);
    // written after the commit, never committed: a crash (close without commit) loses them
    await store.put(b('a'), b('lost'));
    await store.put(b('z'), b('lost'));
    await store.delete(b('b'));
    assert.ok(store.uncommittedBytes() > 0);
    await closeAll();

    const reopened = await openStore();
    assert.equal(await reopened.committedPosition(), '42');
    assert.deepEqual(await entries(reopened.all()), [
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('keeps the position when committing without one, and stores no position before the first', async () => {
    const store = await openStore();
    assert.equal(await store.committedPosition(), undefined);
    await store.put(b('a'), b('1'));
    await store.commit(undefined);
    assert.equal(await store.committedPosition(), undefined);
    await store.commit('7');
    await store.put(b('b'), b('2'));
    await store.commit(undefined);
    await closeAll();
    const reopened = await openStore();
    assert.equal(await reopened.committedPosition(), '7');
    assert.deepEqual(await entries(reopened.all()), [
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('rejects a position that is not an offset', async () => {
    const store = await openStore();
    await assert.rejects(store.commit('12abc'), IllegalStateError);
    await assert.rejects(store.restoreBatch([], '-1'), IllegalStateError);
  });

  it('keeps writes made while a commit is in flight for the next commit', async () => {
    const store = await openStore();
    await store.put(b('a'), b('1'));
    const committing = store.commit('1');
    await store.put(b('a'), b('2'));
    await store.put(b('b'), b('1'));
    await committing;
    assert.equal((await store.get(b('a')))?.toString(), '2');
    assert.equal(store.uncommittedCount(), 2);
    await store.commit('2');
    await closeAll();
    const reopened = await openStore();
    assert.deepEqual(await entries(reopened.all()), [
      ['a', '2'],
      ['b', '1'],
    ]);
  });

  it('a scan open across a commit neither skips nor repeats keys', async () => {
    const store = await openStore();
    for (let i = 0; i < 1000; i++) await store.put(b(`k${String(i).padStart(4, '0')}`), b(String(i)));
    await store.commit('1');
    for (let i = 1000; i < 2000; i++) await store.put(b(`k${String(i).padStart(4, '0')}`), b(String(i)));
    const seen: string[] = [];
    let committed = false;
    for await (const [key] of store.all()) {
      seen.push(key.toString());
      if (seen.length === 300 && !committed) {
        // moves the buffered half into LevelDB under the open scan
        committed = true;
        await store.commit('2');
      }
    }
    assert.equal(seen.length, 2000);
    assert.equal(new Set(seen).size, 2000);
    assert.deepEqual(seen, [...seen].sort());
  });

  it('closes cleanly with scans broken off early or left unfinished', async () => {
    const store = await openStore();
    for (let i = 0; i < 2000; i++) await store.put(b(`k${String(i).padStart(4, '0')}`), b('v'));
    await store.commit('1');
    for await (const [key] of store.all()) {
      assert.equal(key.toString(), 'k0000');
      break;
    }
    const abandoned = store.range(b('k0100'), undefined)[Symbol.asyncIterator]();
    assert.equal((await abandoned.next()).value?.[0].toString(), 'k0100');
    await closeAll();
    // the abandoned scan now fails with a typed error instead of reading a closed database
    await assert.rejects(
      abandoned.next(),
      (err: unknown) => (err as { code?: string }).code === 'CTR_STORE_CLOSED',
    );
  });

  it('restoreBatch writes records and position in one batch; committedPosition reads it back after reopen', async () => {
    const store = await openStore();
    await store.restoreBatch(
      [
        { key: b('a'), value: b('1') },
        { key: b('b'), value: b('2') },
      ],
      '2',
    );
    await store.restoreBatch(
      [
        { key: b('a'), value: null },
        { key: b('c'), value: b('3') },
      ],
      '4',
    );
    assert.equal(await store.committedPosition(), '4');
    await closeAll();
    const reopened = await openStore();
    assert.equal(await reopened.committedPosition(), '4');
    assert.deepEqual(await entries(reopened.all()), [
      ['b', '2'],
      ['c', '3'],
    ]);
  });

  it('refuses to restore over uncommitted writes', async () => {
    const store = await openStore();
    await store.put(b('a'), b('1'));
    await assert.rejects(store.restoreBatch([{ key: b('a'), value: b('0') }], '1'), /uncommitted writes/);
  });

  it('wipe deletes the files, the data and the position', async () => {
    const store = await openStore();
    await store.put(b('a'), b('1'));
    await store.commit('5');
    await store.wipe();
    assert.equal(await store.committedPosition(), undefined);
    assert.equal(await store.approximateNumEntries(), 0);
    await store.restoreBatch([{ key: b('x'), value: b('y') }], '1');
    await closeAll();
    const reopened = await openStore();
    assert.equal(await reopened.committedPosition(), '1');
    assert.deepEqual(await entries(reopened.all()), [['x', 'y']]);
  });

  it('reports a damaged database as StoreCorruptedError naming store and path; wipe makes it usable', async () => {
    const store = await openStore('damaged');
    await store.put(b('a'), b('1'));
    await store.commit('1');
    await closeAll();
    await writeFile(join(dir, 'damaged', 'CURRENT'), 'garbage-without-newline');

    const broken = new LevelDbKeyValueStore('damaged');
    await assert.rejects(broken.init(makeContext({ taskDir: dir })), (err: unknown) => {
      assert.ok(err instanceof StoreCorruptedError);
      assert.equal(err.code, 'CTR_STORE_CORRUPTED');
      assert.equal(err.store, 'damaged');
      assert.equal(err.path, join(dir, 'damaged'));
      assert.match(err.message, /cannot open store "damaged" at .*damaged/);
      return true;
    });
    // the runtime's reaction: wipe (the store object whose init failed) and restore fully
    await broken.wipe();
    open.push(broken);
    assert.equal(await broken.committedPosition(), undefined);
    await broken.put(b('b'), b('2'));
    assert.equal((await broken.get(b('b')))?.toString(), '2');
  });

  it('reports an unreadable position and an unknown on-disk format as corrupted', async () => {
    const raw = new Level<Buffer, Buffer>(join(dir, 'odd'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    await raw.put(Buffer.from([0x00, ...Buffer.from('changelog-position')]), b('not-a-number'));
    await raw.close();
    await assert.rejects(
      new LevelDbKeyValueStore('odd').init(makeContext({ taskDir: dir })),
      (err: unknown) => {
        assert.ok(err instanceof StoreCorruptedError);
        assert.match(err.message, /changelog position of store "odd".*"not-a-number" is not an offset/);
        return true;
      },
    );

    const future = new Level<Buffer, Buffer>(join(dir, 'future'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    await future.put(Buffer.from([0x00, ...Buffer.from('format')]), b('99'));
    await future.close();
    await assert.rejects(
      new LevelDbKeyValueStore('future').init(makeContext({ taskDir: dir })),
      /unknown on-disk format "99"/,
    );
  });

  it('reports a database held by another store as a retriable StoreLockedError', async () => {
    await openStore('shared');
    await assert.rejects(
      new LevelDbKeyValueStore('shared').init(makeContext({ taskDir: dir })),
      (err: unknown) => {
        assert.ok(err instanceof StoreLockedError);
        assert.equal(err.retriable, true);
        assert.match(err.message, /store "shared"/);
        return true;
      },
    );
  });

  it('counts the uncommitted buffer in bytes', async () => {
    const store = await openStore();
    await store.put(b('key'), b('value'));
    assert.equal(store.uncommittedBytes(), 8);
    await store.put(b('key'), b('v'));
    assert.equal(store.uncommittedBytes(), 4);
    await store.delete(b('key'));
    assert.equal(store.uncommittedBytes(), 3);
    await store.commit('1');
    assert.equal(store.uncommittedBytes(), 0);
  });

  it('estimates the count of a large store from its size on disk within 50%', async () => {
    const store = await openStore();
    const value = Buffer.alloc(200, 7);
    for (let batch = 0; batch < 60; batch++) {
      await store.putAll(Array.from({ length: 1000 }, (_, i) => [b(`key-${batch}-${i}`), value] as const));
      await store.commit(String(batch));
    }
    const estimate = await store.approximateNumEntries();
    assert.ok(estimate > 30_000 && estimate < 90_000, `estimate ${estimate} for 60,000 entries`);
  });

  it('after a SIGKILL at a random moment, data and position agree and no uncommitted write survives', async () => {
    const child = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
    for (const killAfterMs of [150, 400]) {
      const taskDir = await tempDir();
      try {
        await new Promise<void>((resolve, reject) => {
          const proc = spawn(process.execPath, ['--import', 'tsx', child, taskDir, String(killAfterMs)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          proc.on('error', reject);
          proc.on('exit', (_code, signal) =>
            signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited with ${_code}/${signal}`)),
          );
        });
        const store = new LevelDbKeyValueStore('crashy');
        await store.init(makeContext({ taskDir }));
        try {
          const position = await store.committedPosition();
          const all = await entries(store.all());
          if (position === undefined) {
            assert.deepEqual(all, []);
          } else {
            // every key holds exactly the batch the position names
            assert.equal(all.length, 200, `200 keys at position ${position}`);
            for (const [key, value] of all) assert.equal(value, position, `${key} at position ${position}`);
          }
        } finally {
          await store.close();
        }
      } finally {
        await removeDir(taskDir);
      }
    }
  });
});
