/**
 * TestOutputTopic: reads what the topology wrote to a topic, in the order it
 * was written (across partitions), each record once.
 */
import type { Serde } from '../serde/serde.ts';
import type { TopicLog } from './topic-log.ts';
import type { OutputRecord } from './test-record.ts';

export class TestOutputTopic<K, V> {
  private position = 0;

  constructor(
    readonly name: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly log: () => TopicLog,
  ) {}

  /** Unread records. */
  getQueueSize(): number {
    return this.log().all.length - this.position;
  }

  isEmpty(): boolean {
    return this.getQueueSize() === 0;
  }

  /**
   * The next unread record.
   * @throws RangeError when there is none (check `isEmpty()` first).
   */
  readRecord(): OutputRecord<K, V> {
    const raw = this.log().all[this.position];
    if (raw === undefined) throw new RangeError(`no unread record in output topic "${this.name}"`);
    this.position++;
    return {
      topic: raw.topic,
      partition: raw.partition,
      offset: raw.offset,
      key: (this.keySerde ? this.keySerde.deserialize(raw.topic, raw.key, raw.headers) : raw.key) as K,
      value: (this.valueSerde
        ? this.valueSerde.deserialize(raw.topic, raw.value, raw.headers)
        : raw.value) as V,
      timestamp: raw.timestamp,
      headers: raw.headers,
    };
  }

  readValue(): V {
    return this.readRecord().value;
  }

  readKeyValue(): [K, V] {
    const r = this.readRecord();
    return [r.key, r.value];
  }

  readRecordsToList(): OutputRecord<K, V>[] {
    const out: OutputRecord<K, V>[] = [];
    while (!this.isEmpty()) out.push(this.readRecord());
    return out;
  }

  readValuesToList(): V[] {
    return this.readRecordsToList().map((r) => r.value);
  }

  readKeyValuesToList(): Array<[K, V]> {
    return this.readRecordsToList().map((r) => [r.key, r.value]);
  }

  /** The latest value per key (a table view); a null value deletes the key. */
  readKeyValuesToMap(): Map<K, V> {
    const map = new Map<K, V>();
    for (const r of this.readRecordsToList()) {
      if (r.value === null) map.delete(r.key);
      else map.set(r.key, r.value);
    }
    return map;
  }
}
