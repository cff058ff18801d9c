import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  KafkaConsumer,
  KafkaProducer,
  readTopicToEnd,
  type OutgoingRecord,
} from '../../../src/kafka/index.ts';
import {
  createTopics,
  eventually,
  testKafka,
  uniqueName,
  waitForCommittedToEnd,
  withAdmin,
  type TestKafka,
} from '../../helpers/kafka.ts';
import { tempStateDirs } from '../../helpers/streams.ts';
import { STORE } from './fixtures/counting.ts';

const PARTITIONS = 4;
const RECORDS = 100_000;
const KEYS = 1000;
const KILLS = 10;
const APP = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'counting-app.ts');

/**
 * The shortest session timeout the broker accepts: 2 s where group.min.session.timeout.ms allows it
 * (our test broker), else the broker default minimum of 6 s. A restart after SIGKILL waits for the
 * dead member's session to expire, so this sets the pace of the test.
 */
async function sessionTimeout(env: TestKafka, topic: string): Promise<number> {
  const consumer = new KafkaConsumer(env.kafka, {
    groupId: uniqueName('probe'),
    sessionTimeoutMs: 2000,
    heartbeatIntervalMs: 500,
  });
  let rejected = false;
  consumer.onCrash((error) => {
    if ((error as { type?: string }).type === 'INVALID_SESSION_TIMEOUT') rejected = true;
  });
  await consumer.connect();
  await consumer.subscribe([topic]);
  await consumer.run({ eachBatch: async () => undefined });
  await consumer.disconnect();
  return rejected ? 6000 : 2000;
}

interface Child {
  process: ChildProcess;
  /** Highest input offset processed per partition, from the child's `P` lines. */
  processed: Map<number, bigint>;
  states: string[];
  exited: Promise<number | null>;
}

/** Children still running: a failed test must not leave them behind (they keep the runner alive). */
const live = new Set<ChildProcess>();

function startChild(env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', APP], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.on('exit', () => live.delete(child));
  const processed = new Map<number, bigint>();
  const states: string[] = [];
  let buffer = '';
  child.stdout!.on('data', (data: Buffer) => {
    buffer += data.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const [kind, a, b] = line.split(' ');
      if (kind === 'P') {
        const p = Number(a);
        const o = BigInt(b!);
        if ((processed.get(p) ?? -1n) < o) processed.set(p, o);
      } else if (kind === 'STATE') states.push(a!);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== null && code !== 0) process.stderr.write(`child exited ${code}: ${stderr}\n`);
      resolve(code);
    }),
  );
  return { process: child, processed, states, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KafkaStreams crash safety (SIGKILL) on a real broker', () => {
  let env: TestKafka;
  const dirs = tempStateDirs('ctr-crash-');
  let stateDir: string;
  before(async () => {
    env = await testKafka();
    stateDir = dirs.make();
  });
  after(() => {
    for (const child of live) child.kill('SIGKILL');
    dirs.cleanup();
  });

  it(`keeps every record's effect through ${KILLS} SIGKILLs, with duplicates bounded by the uncommitted records`, async () => {
    const input = uniqueName('crash-in');
    const applicationId = uniqueName('crash-app');
    await createTopics(env.kafka, [{ name: input, partitions: PARTITIONS }]);
    const session = await sessionTimeout(env, input);
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      CTR_LOG_LEVEL: 'warn',
      CTR_APPLICATION_ID: applicationId,
      CTR_BOOTSTRAP_SERVERS: env.bootstrap,
      CTR_STATE_DIR: stateDir,
      CTR_COMMIT_INTERVAL_MS: '400',
      CTR_SESSION_TIMEOUT_MS: String(session),
      CTR_HEARTBEAT_INTERVAL_MS: String(Math.floor(session / 4)),
      CTR_MAX_POLL_RECORDS: '200',
      COUNT_INPUT: input,
    };

    // the input arrives while the app is being killed: before each start, the next tenth of the
    // 100,000 records (paced by the kills, not by the clock, so a slow machine changes nothing)
    const expected = new Map<string, number>();
    const producer = new KafkaProducer(env.kafka);
    await producer.connect();
    let produced = 0;
    const produceChunk = async (): Promise<void> => {
      const records: OutgoingRecord[] = [];
      for (let j = 0; j < RECORDS / KILLS; j++, produced++) {
        const key = `k${produced % KEYS}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
        records.push({ topic: input, key, value: `v${produced}` });
      }
      await producer.send(records);
    };

    let uncommittedAtKills = 0;
    const killLog: string[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      await produceChunk();
      const child = startChild(childEnv);
      if (kill % 2 === 0) {
        // while processing: after its first batch, at a random moment
        await eventually(`child ${kill} to process a batch`, () => child.processed.size > 0, 60_000, 20);
        await sleep(Math.random() * 800);
      } else {
        // any moment from start-up on: joining, restoring or processing
        await sleep(300 + Math.random() * (session + 1500));
      }
      child.process.kill('SIGKILL');
      await child.exited;
      const committed = await withAdmin(env.kafka, (admin) => admin.groupOffsets(applicationId, [input]));
      let uncommitted = 0n;
      for (const [p, last] of child.processed) {
        const c = BigInt(committed.find((o) => o.partition === p)?.offset ?? '-1');
        const from = c < 0n ? 0n : c;
        if (last + 1n > from) uncommitted += last + 1n - from;
      }
      uncommittedAtKills += Number(uncommitted);
      killLog.push(
        `kill ${kill}: processed ${[...child.processed.values()].map(String).join('/')} uncommitted ${uncommitted}`,
      );
    }
    await producer.disconnect();
    assert.equal(produced, RECORDS);

    // the last run: let it finish the input, then stop it gracefully
    const last = startChild(childEnv);
    // a killed run may already have committed the end of the input: wait until this one runs too,
    // or the SIGTERM could land before its handler is installed
    await eventually('the last run to be RUNNING', () => last.states.includes('RUNNING'), 60_000, 50);
    await waitForCommittedToEnd(env.kafka, applicationId, input, 60_000);
    last.process.kill('SIGTERM');
    assert.equal(await last.exited, 0, 'graceful shutdown on SIGTERM');

    // the final counts, from the changelog (latest value per key)
    const changelog = await readTopicToEnd(env.kafka, `${applicationId}-${STORE}-changelog`);
    const counts = new Map<string, number>();
    for (const r of changelog)
      if (r.key && r.value) counts.set(r.key.toString(), Number(r.value.readBigInt64BE(0)));
    let sum = 0;
    for (const [key, n] of expected) {
      const got = counts.get(key) ?? 0;
      assert.ok(got >= n, `every record's effect is present: ${key} counted ${got} < ${n}`);
      sum += got;
    }
    const duplicates = sum - RECORDS;
    process.stdout.write(
      `# crash test: session ${session} ms, ${KILLS} kills, duplicates ${duplicates}, bound (uncommitted at kills) ${uncommittedAtKills}\n# ${killLog.join('\n# ')}\n`,
    );
    assert.ok(duplicates >= 0);
    assert.ok(
      duplicates <= uncommittedAtKills,
      `duplicates ${duplicates} exceed the records uncommitted at the kills (${uncommittedAtKills})`,
    );
  });
});
