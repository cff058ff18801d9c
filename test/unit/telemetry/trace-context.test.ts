import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT, TraceFlags, propagation, trace } from '@opentelemetry/api';
import {
  extractTraceContext,
  injectTraceContext,
  linksFromHeaders,
  spanContextFromHeaders,
  type TraceCarrier,
} from '../../../src/telemetry/index.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';

function contextWithSpan(flags = TraceFlags.SAMPLED, id = spanId) {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: id, traceFlags: flags, isRemote: false });
}

/** Headers as a consumer sees them: every value is bytes. */
function onTheWire(headers: TraceCarrier): TraceCarrier {
  const out: TraceCarrier = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k] = Buffer.from(v, 'utf8');
  return out;
}

describe('trace context in Kafka headers', () => {
  it('writes a W3C traceparent for the span in the context', () => {
    const headers = injectTraceContext({}, contextWithSpan());
    assert.equal(headers.traceparent, `00-${traceId}-${spanId}-01`);
  });

  it('round-trips trace id, span id and flags through byte headers', () => {
    const headers = onTheWire(injectTraceContext({}, contextWithSpan(TraceFlags.NONE)));
    const extracted = trace.getSpanContext(extractTraceContext(headers, ROOT_CONTEXT));
    assert.ok(extracted);
    assert.equal(extracted.traceId, traceId);
    assert.equal(extracted.spanId, spanId);
    assert.equal(extracted.traceFlags, TraceFlags.NONE);
    assert.equal(extracted.isRemote, true);
  });

  it('round-trips tracestate and baggage', () => {
    // tracestate enters through a parsed header, as it does when a record arrives from another service
    const parent = extractTraceContext(
      { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=abc,other=1' },
      ROOT_CONTEXT,
    );
    const ctx = propagation.setBaggage(
      parent,
      propagation.createBaggage({ 'ctx.id': { value: 'home/top' } }),
    );
    const headers = onTheWire(injectTraceContext({}, ctx));
    const back = extractTraceContext(headers, ROOT_CONTEXT);
    assert.equal(trace.getSpanContext(back)?.traceId, traceId);
    assert.equal(trace.getSpanContext(back)?.traceState?.serialize(), 'vendor=abc,other=1');
    assert.equal(propagation.getBaggage(back)?.getEntry('ctx.id')?.value, 'home/top');
  });

  it('replaces a stale traceparent copied from an input record', () => {
    const headers: TraceCarrier = { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, other: 'kept' };
    injectTraceContext(headers, contextWithSpan());
    assert.equal(headers.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(headers.other, 'kept');
  });

  it('removes trace headers when the context carries no span', () => {
    const headers: TraceCarrier = { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'a=b' };
    injectTraceContext(headers, ROOT_CONTEXT);
    assert.equal(headers.traceparent, undefined);
    assert.equal(headers.tracestate, undefined);
  });

  it('ignores a malformed traceparent without throwing', () => {
    const ctx = extractTraceContext({ traceparent: Buffer.from('00-not-a-trace-01') }, ROOT_CONTEXT);
    assert.equal(trace.getSpanContext(ctx), undefined);
    assert.equal(spanContextFromHeaders({ traceparent: 'garbage' }), undefined);
    assert.equal(spanContextFromHeaders(undefined), undefined);
    assert.equal(extractTraceContext(undefined, ROOT_CONTEXT), ROOT_CONTEXT);
  });

  it('uses the first value when a header key repeats', () => {
    const first = `00-${traceId}-${spanId}-01`;
    const second = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const sc = spanContextFromHeaders({ traceparent: [Buffer.from(first), Buffer.from(second)] });
    assert.equal(sc?.traceId, traceId);
  });

  it('links a batch span to each distinct producer span, at most max', () => {
    const batch: TraceCarrier[] = [
      injectTraceContext({}, contextWithSpan(TraceFlags.SAMPLED, '0000000000000001')),
      injectTraceContext({}, contextWithSpan(TraceFlags.SAMPLED, '0000000000000001')),
      injectTraceContext({}, contextWithSpan(TraceFlags.SAMPLED, '0000000000000002')),
      {},
      injectTraceContext({}, contextWithSpan(TraceFlags.SAMPLED, '0000000000000003')),
    ];
    const links = linksFromHeaders(batch.map(onTheWire));
    assert.deepEqual(
      links.map((l) => l.context.spanId),
      ['0000000000000001', '0000000000000002', '0000000000000003'],
    );
    assert.equal(linksFromHeaders(batch, 2).length, 2);
  });
});
