import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DLQ_HEADERS,
  DeadLetterHandler,
  FailHandler,
  HandlerStats,
  LogAndContinueHandler,
  exceptionHandlersFromConfig,
  type HandlerContext,
} from '../../../../src/streams/errors-handling/index.ts';
import type { RawRecord } from '../../../../src/streams/processor/raw-record.ts';
import type { RecordCollector } from '../../../../src/streams/processor/record-collector.ts';
import type { Headers } from '../../../../src/streams/processor/record.ts';
import { SerdeError } from '../../../../src/streams/serde/index.ts';

interface Sent {
  topic: string;
  partition: number | undefined;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  timestamp: number;
}

/** Records what the handler sends; the unit under test is the handler, not the producer. */
function recordingCollector(): RecordCollector & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    send() {},
    sendRecord(topic, partition, key, value, headers, timestamp) {
      sent.push({ topic, partition, key, value, headers, timestamp });
    },
    partitionsFor: () => Promise.resolve(1),
    flush: () => Promise.resolve(new Map()),
  };
}

function contextWith(collector: RecordCollector, processor = 'impressions-source'): HandlerContext {
  return { applicationId: 'ctr-app', taskId: '0_3', processor, collector };
}

const RAW: RawRecord = {
  key: Buffer.from('imp-7'),
  value: Buffer.from([1, 0, 0, 0, 42, 9, 9]),
  timestamp: 1767225600123,
  headers: { traceparent: '00-abc-def-01' },
  topic: 'impressions',
  partition: 3,
  offset: '1042',
};
const WIRE_ERROR = new SerdeError(
  'CTR_SERDE_WIRE_FORMAT',
  'avro(Impression) from impressions: magic byte is 1, expected 0',
);

describe('DeadLetterHandler', () => {
  it('sends an undeserializable record to <application.id>-dlq with its original bytes and every source header', () => {
    const collector = recordingCollector();
    const handler = new DeadLetterHandler();
    assert.equal(handler.handle(contextWith(collector), RAW, WIRE_ERROR), 'continue');
    assert.equal(collector.sent.length, 1);
    const dlq = collector.sent[0]!;
    assert.equal(dlq.topic, 'ctr-app-dlq');
    assert.deepEqual(dlq.key, RAW.key);
    assert.deepEqual(dlq.value, RAW.value);
    assert.equal(dlq.timestamp, RAW.timestamp);
    assert.equal(dlq.headers.traceparent, '00-abc-def-01');
    assert.equal(dlq.headers[DLQ_HEADERS.exception], 'SerdeError');
    assert.equal(dlq.headers[DLQ_HEADERS.code], 'CTR_SERDE_WIRE_FORMAT');
    assert.match(String(dlq.headers[DLQ_HEADERS.message]), /magic byte is 1/);
    assert.match(String(dlq.headers[DLQ_HEADERS.stacktrace]), /SerdeError/);
    assert.equal(dlq.headers[DLQ_HEADERS.handler], 'deserialization');
    assert.equal(dlq.headers[DLQ_HEADERS.topic], 'impressions');
    assert.equal(dlq.headers[DLQ_HEADERS.partition], '3');
    assert.equal(dlq.headers[DLQ_HEADERS.offset], '1042');
    assert.equal(dlq.headers[DLQ_HEADERS.timestamp], '1767225600123');
    assert.equal(dlq.headers[DLQ_HEADERS.processor], 'impressions-source');
    assert.equal(dlq.headers[DLQ_HEADERS.applicationId], 'ctr-app');
    assert.equal(dlq.headers[DLQ_HEADERS.taskId], '0_3');
  });

  it('keeps null keys and values null', () => {
    const collector = recordingCollector();
    new DeadLetterHandler({ topic: 'my-dlq' }).handle(
      contextWith(collector),
      { ...RAW, key: null, value: null },
      new TypeError('null value'),
    );
    assert.equal(collector.sent[0]!.topic, 'my-dlq');
    assert.equal(collector.sent[0]!.key, null);
    assert.equal(collector.sent[0]!.value, null);
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.exception], 'TypeError');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.code], undefined);
  });

  it('dead-letters every record of a failed processor batch, re-encoding typed values as JSON', () => {
    const collector = recordingCollector();
    const stats = new HandlerStats();
    const records = [
      {
        key: 'imp-1',
        value: { score: 0.5 },
        timestamp: 5,
        headers: {},
        origin: { topic: 'impressions', partition: 0, offset: '10' },
      },
      {
        key: 'imp-2',
        value: Buffer.from([7]),
        timestamp: 6,
        headers: {},
        origin: { topic: 'impressions', partition: 0, offset: '11' },
      },
    ];
    assert.equal(
      new DeadLetterHandler({ stats }).handle(
        contextWith(collector, 'scorer'),
        records,
        new RangeError('bad score'),
      ),
      'continue',
    );
    assert.equal(collector.sent.length, 2);
    assert.equal(collector.sent[0]!.value!.toString(), '{"score":0.5}');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.payload], 'json');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.batchSize], '2');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.offset], '10');
    assert.deepEqual(collector.sent[1]!.value, Buffer.from([7]));
    assert.equal(collector.sent[1]!.headers[DLQ_HEADERS.payload], undefined);
    assert.equal(collector.sent[1]!.headers[DLQ_HEADERS.processor], 'scorer');
    assert.equal(stats.total({ handler: 'processing', action: 'dead-letter', code: 'RangeError' }), 2);
  });

  it('dead-letters the source bytes and headers of a failed record when the task still has them', () => {
    const collector = recordingCollector();
    const record = {
      key: 'imp-7',
      value: { decoded: true },
      timestamp: 99,
      headers: { added: 'by-a-processor' },
      origin: { topic: 'impressions', partition: 3, offset: '1042' },
    };
    const asked: string[] = [];
    const context: HandlerContext = {
      ...contextWith(collector, 'scorer'),
      sourceRecord: (origin) => {
        asked.push(`${origin.topic}[${origin.partition}]@${origin.offset}`);
        return origin.offset === '1042' ? RAW : undefined;
      },
    };
    const handler = new DeadLetterHandler();
    assert.equal(handler.handle(context, [record], new RangeError('bad score')), 'continue');
    handler.handleSerializationException(context, record, 'recommendations', new Error('no schema'));
    assert.deepEqual(asked, ['impressions[3]@1042', 'impressions[3]@1042']);
    for (const sent of collector.sent) {
      assert.deepEqual(sent.key, RAW.key);
      assert.deepEqual(sent.value, RAW.value, 'the source bytes, not JSON of the typed value');
      assert.equal(sent.headers[DLQ_HEADERS.payload], undefined);
      assert.equal(sent.headers['traceparent'], '00-abc-def-01', 'the source headers');
      assert.equal(sent.headers['added'], undefined);
      assert.equal(sent.headers[DLQ_HEADERS.offset], '1042');
      assert.equal(sent.timestamp, RAW.timestamp);
    }
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.handler], 'processing');
    assert.equal(collector.sent[1]!.headers[DLQ_HEADERS.sinkTopic], 'recommendations');
    // not in the batch any more: back to re-encoding the typed value
    collector.sent.length = 0;
    handler.handle(
      context,
      [{ ...record, origin: { topic: 'impressions', partition: 3, offset: '7' } }],
      new Error('x'),
    );
    assert.equal(collector.sent[0]!.value!.toString(), '{"decoded":true}');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.payload], 'json');
  });

  it('only counts a failed punctuator: there is no record to dead-letter', () => {
    const collector = recordingCollector();
    const handler = new DeadLetterHandler();
    assert.equal(
      handler.handle(contextWith(collector, 'list-builder'), [], new Error('cycle failed')),
      'continue',
    );
    assert.equal(collector.sent.length, 0);
    assert.equal(handler.stats.total({ handler: 'processing', action: 'dead-letter', code: 'Error' }), 1);
  });

  it('names the sink topic of a record that could not be serialized', () => {
    const collector = recordingCollector();
    const record = {
      key: 'c',
      value: { n: 1 },
      timestamp: 5,
      headers: {},
      origin: { topic: 'in', partition: 1, offset: '3' },
    };
    new DeadLetterHandler().handleSerializationException(
      contextWith(collector, 'to-recs'),
      record,
      'recommendations',
      new SerdeError('CTR_SERDE_SERIALIZE', 'bad'),
    );
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.sinkTopic], 'recommendations');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.handler], 'production');
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.topic], 'in');
  });

  it('fails instead of looping when the DLQ itself refuses a record', () => {
    const collector = recordingCollector();
    const produced = {
      topic: 'ctr-app-dlq',
      partition: undefined,
      key: null,
      value: Buffer.alloc(1),
      headers: {},
      timestamp: 1,
    };
    assert.equal(
      new DeadLetterHandler().handle(contextWith(collector), produced, new Error('too large')),
      'fail',
    );
    assert.equal(collector.sent.length, 0);
  });

  it('sends a record the producer refused to the DLQ with its bytes', () => {
    const collector = recordingCollector();
    const produced = {
      topic: 'recommendations',
      partition: 2,
      key: Buffer.from('k'),
      value: Buffer.alloc(3),
      headers: {},
      timestamp: 1,
    };
    assert.equal(
      new DeadLetterHandler().handle(contextWith(collector), produced, new Error('MESSAGE_TOO_LARGE')),
      'continue',
    );
    assert.deepEqual(collector.sent[0]!.value, Buffer.alloc(3));
    assert.equal(collector.sent[0]!.headers[DLQ_HEADERS.sinkTopic], 'recommendations');
  });
});

describe('LogAndContinueHandler and FailHandler', () => {
  it('log-and-continue skips without sending and counts per code', () => {
    const collector = recordingCollector();
    const handler = new LogAndContinueHandler();
    for (let i = 0; i < 3; i++)
      assert.equal(handler.handle(contextWith(collector), RAW, WIRE_ERROR), 'continue');
    assert.equal(collector.sent.length, 0);
    assert.deepEqual(handler.stats.snapshot(), { 'deserialization/continue/CTR_SERDE_WIRE_FORMAT': 3 });
  });

  it('fail answers fail and counts it', () => {
    const handler = new FailHandler();
    assert.equal(handler.handle(contextWith(recordingCollector()), RAW, WIRE_ERROR), 'fail');
    assert.equal(handler.stats.total({ action: 'fail' }), 1);
  });
});

describe('exceptionHandlersFromConfig', () => {
  it('builds each handler from its setting and shares one stats', () => {
    const built = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'dead-letter',
      'processing.exception.handler': 'log-and-continue',
      'default.production.exception.handler': 'fail',
      'errors.dead.letter.queue.topic.name': 'app-dlq',
    });
    assert.equal(built.exceptionHandlers.deserialization.name, 'dead-letter');
    assert.equal(built.exceptionHandlers.processing.name, 'log-and-continue');
    assert.equal(built.exceptionHandlers.production.name, 'fail');
    assert.equal(built.deadLetterTopic, 'app-dlq');
    const collector = recordingCollector();
    assert.equal(built.handlers.onDeserializationError!(contextWith(collector), RAW, WIRE_ERROR), 'continue');
    assert.equal(built.handlers.onProcessingError!(contextWith(collector), [], new Error('x')), 'continue');
    assert.equal(
      built.handlers.onSerializationError!(
        contextWith(collector),
        { key: 1, value: 2, timestamp: 0, headers: {} },
        't',
        new Error('y'),
      ),
      'fail',
    );
    assert.equal(collector.sent.length, 1);
    assert.equal(collector.sent[0]!.topic, 'app-dlq');
    assert.equal(built.stats.total(), 3);
  });

  it('routes producer send failures to the production handler and turns isolation off for fail', () => {
    const built = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'fail',
      'default.production.exception.handler': 'dead-letter',
      'errors.dead.letter.queue.topic.name': 'app-dlq',
    });
    const collector = recordingCollector();
    const produced = {
      topic: 'out',
      partition: 1,
      key: null,
      value: Buffer.from('v'),
      headers: {},
      timestamp: 1,
    };
    assert.equal(
      built.handlers.onProductionError!(contextWith(collector), produced, new Error('too large')),
      'continue',
    );
    assert.equal(collector.sent[0]!.topic, 'app-dlq');
    assert.equal(
      built.handlers.processingIsolation,
      false,
      'a fail handler gains nothing from the undo journal',
    );
    const continuing = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'log-and-continue',
      'default.production.exception.handler': 'fail',
      'errors.dead.letter.queue.topic.name': 'app-dlq',
    });
    assert.equal(continuing.handlers.processingIsolation, true);
  });

  it('reports no DLQ topic when no handler dead-letters', () => {
    const built = exceptionHandlersFromConfig({
      'default.deserialization.exception.handler': 'fail',
      'processing.exception.handler': 'fail',
      'default.production.exception.handler': 'log-and-continue',
      'errors.dead.letter.queue.topic.name': 'app-dlq',
    });
    assert.equal(built.deadLetterTopic, undefined);
  });
});
