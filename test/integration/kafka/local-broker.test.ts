import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaError } from '../../../src/kafka/index.ts';
import { findLocalBroker, startLocalBroker, stopLocalBroker } from '../../../src/kafka/local-broker/index.ts';

const launcher = join(import.meta.dirname, '..', '..', '..', 'deploy', 'local-kafka', 'kafka.ts');

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A port whose next port is free too (the broker takes port, its controller port + 1), below the
 * kernel's ephemeral range (32768+ here): a port the OS hands out for listen(0) can be taken again
 * at once by another test's outgoing connection, which made this test fail with "port in use".
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await canBind(port)) && (await canBind(port + 1))) return port;
  }
}

function runLauncher(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', launcher, ...args], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
}

describe('the local broker launcher', () => {
  it('starts a broker, finds it again, reuses it, and stops it by its pid', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'ctr-broker-'));
    try {
      const broker = await startLocalBroker({ port, dataDir, heap: '384m' });
      assert.equal(broker.reused, false);
      assert.equal(broker.bootstrap, `127.0.0.1:${port}`);
      const again = await startLocalBroker({ port, dataDir });
      assert.equal(again.reused, true);
      assert.equal(again.pid, broker.pid);
      assert.equal((await findLocalBroker({ port, dataDir }))?.pid, broker.pid);
      assert.equal(await stopLocalBroker({ port, dataDir }), true);
      assert.equal(await findLocalBroker({ port, dataDir }), undefined);
      assert.equal(await stopLocalBroker({ port, dataDir }), false);
    } finally {
      await stopLocalBroker({ port, dataDir });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('says in one line when the port is in use', async () => {
    const server: Server = createServer();
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const dataDir = mkdtempSync(join(tmpdir(), 'ctr-broker-'));
    try {
      const result = runLauncher(['--port', String(port), '--data-dir', dataDir, 'start'], process.env);
      assert.equal(result.status, 1);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0]!,
        new RegExp(
          `^kafka: port ${port} on 127.0.0.1 is in use by another process: stop it, or pick another port`,
        ),
      );
    } finally {
      server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names Java and its fix in one line when java is missing', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/nonexistent' };
    delete env.JAVA_HOME;
    const result = runLauncher(['--port', '1', 'start'], env);
    assert.equal(result.status, 1);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0]!,
      /^kafka: java was not found on PATH: install a Java 17\+ runtime \(Debian\/Ubuntu: `apt-get install openjdk-17-jre-headless`/,
    );
  });

  it('names Maven and its fix in one line when mvn is missing and jars must be fetched', async () => {
    const port = await freePort();
    const cache = mkdtempSync(join(tmpdir(), 'ctr-cache-'));
    try {
      // java stays reachable through JAVA_HOME; mvn is not on PATH; the empty cache forces a download
      const javaHome = spawnSync('sh', ['-c', 'dirname $(dirname $(readlink -f $(command -v java)))'], {
        encoding: 'utf8',
      }).stdout.trim();
      const env = { ...process.env, PATH: '/nonexistent', JAVA_HOME: javaHome, CTR_STREAMS_CACHE: cache };
      const result = runLauncher(['--port', String(port), 'start'], env);
      assert.equal(result.status, 1);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /^kafka: mvn was not found on PATH: install Apache Maven 3\.6\+/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('gives up after the ready timeout, kills the broker and shows the last log lines', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'ctr-broker-'));
    try {
      await assert.rejects(startLocalBroker({ port, dataDir, readyTimeoutMs: 300 }), (error: unknown) => {
        assert.ok(error instanceof KafkaError);
        assert.equal(error.code, 'CTR_KAFKA_NOT_READY');
        assert.match(
          error.message,
          /^the broker was not ready within 300 ms; last log lines of .*server\.log:\n/,
        );
        return true;
      });
      assert.equal(await findLocalBroker({ port, dataDir }), undefined);
    } finally {
      await stopLocalBroker({ port, dataDir });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
