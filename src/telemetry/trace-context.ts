/**
 * W3C trace context (and baggage) carried in Kafka record headers, so that a
 * trace follows a record from its producer through every topology step to
 * the `recommendations` topic.
 *
 * The helpers use their own W3C propagators rather than the global one: they
 * work (and forward a caller's context) even when `startTelemetry()` was not
 * called, e.g. in the TopologyTestDriver. Headers are `traceparent`,
 * `tracestate` and `baggage`, the names the W3C specs and other Kafka
 * instrumentations use, so traces join up with producers written in Java or Go.
 */
import {
  ROOT_CONTEXT,
  context as contextApi,
  trace,
  type Context,
  type Link,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/** Header names written by `injectTraceContext`. */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const;

/**
 * Kafka record headers as the engine and kafkajs hold them: bytes when read
 * from the wire, strings accepted on write, an array when a key repeats.
 * Structurally compatible with the engine's `Headers` and kafkajs's `IHeaders`.
 */
export type TraceCarrier = { [name: string]: Buffer | string | ReadonlyArray<Buffer | string> | undefined };

/** The headers `injectTraceContext` may write (as strings; Kafka sends them as UTF-8 bytes). */
// a type alias, not an interface: aliases are assignable to index-signature header types
export type InjectedTraceHeaders = {
  traceparent?: string;
  tracestate?: string;
  baggage?: string;
};

const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

function headerText(value: Buffer | string | ReadonlyArray<Buffer | string> | undefined): string | undefined {
  if (value === undefined) return undefined;
  // A repeated key: W3C says a receiver may use the first traceparent; later copies are usually a re-send artefact.
  const one = Array.isArray(value)
    ? (value as ReadonlyArray<Buffer | string>)[0]
    : (value as Buffer | string);
  if (one === undefined) return undefined;
  return typeof one === 'string' ? one : one.toString('utf8');
}

const getter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => headerText(carrier[key]),
};

const setter: TextMapSetter<TraceCarrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * Writes the trace context of `ctx` (default: the active context) into
 * `headers` as `traceparent` / `tracestate` / `baggage`, replacing any of these
 * headers already present, so an output record never carries the stale
 * parent of the input it was derived from. When `ctx` holds no valid span
 * context and no baggage, the trace headers are only removed.
 *
 * Mutates and returns `headers`.
 */
export function injectTraceContext<H extends TraceCarrier>(
  headers: H,
  ctx: Context = contextApi.active(),
): H & InjectedTraceHeaders {
  const carrier = headers as H & InjectedTraceHeaders;
  for (const name of TRACE_HEADERS) delete carrier[name];
  propagator.inject(ctx, carrier, setter);
  return carrier;
}

/**
 * Reads `traceparent` / `tracestate` / `baggage` from `headers` (bytes or
 * strings) into a new Context derived from `base` (default: the active
 * context). A missing or malformed `traceparent` leaves the trace part of
 * `base` unchanged; it never throws.
 *
 * Use the result as the parent of a span (`tracer.startSpan(name, opts, ctx)`)
 * or run code in it with `context.with(ctx, fn)`.
 */
export function extractTraceContext(
  headers: TraceCarrier | undefined,
  base: Context = contextApi.active(),
): Context {
  if (headers === undefined) return base;
  return propagator.extract(base, headers, getter);
}

/**
 * The remote span context carried by `headers`, or `undefined` when there is
 * none (or it is malformed).
 */
export function spanContextFromHeaders(headers: TraceCarrier | undefined): SpanContext | undefined {
  if (headers === undefined || headers.traceparent === undefined) return undefined;
  // from the root context: a malformed header must not return the caller's own (possibly remote) parent
  const spanContext = trace.getSpanContext(extractTraceContext(headers, ROOT_CONTEXT));
  return spanContext && trace.isSpanContextValid(spanContext) && spanContext.isRemote
    ? spanContext
    : undefined;
}

/**
 * Span links to the producers of a micro-batch's records: a batch span has
 * many parents, so (as the OpenTelemetry messaging conventions advise for
 * batch receive) it links to each record's context instead of choosing one.
 * Duplicates are dropped and at most `max` links are made (default 128) to
 * keep spans small.
 */
export function linksFromHeaders(headersOfRecords: Iterable<TraceCarrier | undefined>, max = 128): Link[] {
  const links: Link[] = [];
  const seen = new Set<string>();
  for (const headers of headersOfRecords) {
    if (links.length >= max) break;
    const spanContext = spanContextFromHeaders(headers);
    if (spanContext === undefined) continue;
    const id = `${spanContext.traceId}-${spanContext.spanId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    links.push({ context: spanContext });
  }
  return links;
}

/**
 * Only the trace headers (`traceparent`, `tracestate`, `baggage`) of a
 * record, for a processor that emits a record derived from it (an
 * aggregate, a list built later by a punctuator) and wants the trace to
 * continue to the output. Empty when the record carries none.
 */
export function traceHeadersOf(headers: TraceCarrier | undefined): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  if (headers === undefined) return out;
  for (const name of TRACE_HEADERS) {
    const value = (headers as Record<string, Buffer | string | string[] | undefined>)[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}
