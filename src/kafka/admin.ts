/**
 * Topic and consumer-group administration: what the engine needs to create
 * its internal topics (compacted changelogs, repartition topics, the DLQ), and
 * what the CLI needs to reset, replay and inspect applications.
 */
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { describeError, KafkaError } from './errors.ts';

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Default 1 (the local single-node broker); production clusters want 3. */
  replicationFactor?: number;
  /** Sets cleanup.policy=compact, as every changelog topic needs. */
  compacted?: boolean;
  /** Any other topic configs, e.g. `{ 'retention.ms': '86400000' }`. */
  configs?: Record<string, string>;
}

export interface TopicDescription {
  name: string;
  partitions: { partition: number; leader: number; replicas: number[] }[];
  /** Effective configs, defaults included. */
  configs: Record<string, string>;
}

export interface PartitionOffsets {
  partition: number;
  /** Earliest offset still in the log. */
  low: string;
  /** Next offset to be written (the high watermark). */
  high: string;
}

export interface GroupOffset {
  topic: string;
  partition: number;
  /** Next offset to consume; `-1` when the group never committed this partition. */
  offset: string;
}

// kafkajs has no enum for config resource types; 2 is TOPIC in the protocol
const TOPIC_RESOURCE = 2;

export class KafkaAdmin {
  private readonly admin: Admin;
  private connected = false;

  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    try {
      await this.admin.connect();
      this.connected = true;
    } catch (error) {
      throw new KafkaError('CTR_KAFKA_CONNECT', `cannot connect the admin client: ${describeError(error)}`, {
        cause: error,
        retriable: true,
      });
    }
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.admin.disconnect();
  }

  /**
   * Creates the topics that do not exist yet and waits for their leaders.
   * An existing topic is left as it is, but one with a different partition
   * count is an error: co-partitioning and changelog restore depend on it.
   * @returns the names of the topics that were created
   */
  async createTopics(specs: readonly TopicSpec[]): Promise<string[]> {
    if (specs.length === 0) return [];
    const existing = new Set(await this.listTopics());
    const toCreate = specs.filter((s) => !existing.has(s.name));
    const toCheck = specs.filter((s) => existing.has(s.name));
    if (toCheck.length > 0) {
      const described = await this.describeTopics(
        toCheck.map((s) => s.name),
        { withConfigs: false },
      );
      for (const spec of toCheck) {
        const found = described.find((d) => d.name === spec.name);
        if (found && found.partitions.length !== spec.partitions) {
          throw new KafkaError(
            'CTR_KAFKA_ADMIN',
            `topic "${spec.name}" exists with ${found.partitions.length} partitions, expected ${spec.partitions}`,
            { topic: spec.name },
          );
        }
      }
    }
    if (toCreate.length === 0) return [];
    const topics: ITopicConfig[] = toCreate.map((spec) => {
      const entries = { ...(spec.compacted ? { 'cleanup.policy': 'compact' } : {}), ...spec.configs };
      return {
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicationFactor ?? 1,
        configEntries: Object.entries(entries).map(([name, value]) => ({ name, value })),
      };
    });
    try {
      await this.admin.createTopics({ topics, waitForLeaders: true });
    } catch (error) {
      // another instance may have created some of them at the same moment
      const now = new Set(await this.listTopics());
      const stillMissing = toCreate.filter((s) => !now.has(s.name));
      if (stillMissing.length > 0) {
        const names = toCreate.map((s) => `"${s.name}" (${s.partitions} partitions)`).join(', ');
        throw new KafkaError('CTR_KAFKA_ADMIN', `cannot create topics ${names}: ${describeError(error)}`, {
          cause: error,
        });
      }
    }
    return toCreate.map((s) => s.name);
  }

  /** Deletes the topics that exist; unknown names are ignored. */
  async deleteTopics(names: readonly string[]): Promise<string[]> {
    const existing = new Set(await this.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length === 0) return [];
    try {
      await this.admin.deleteTopics({ topics: present, timeout: 30_000 });
    } catch (error) {
      throw new KafkaError(
        'CTR_KAFKA_ADMIN',
        `cannot delete topics ${present.join(', ')}: ${describeError(error)}`,
        { cause: error },
      );
    }
    return present;
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  /** Partitions, leaders and (unless `withConfigs: false`) effective configs of each topic. */
  async describeTopics(
    names: readonly string[],
    options: { withConfigs?: boolean } = {},
  ): Promise<TopicDescription[]> {
    let metadata;
    try {
      metadata = await this.admin.fetchTopicMetadata({ topics: [...names] });
    } catch (error) {
      throw new KafkaError(
        'CTR_KAFKA_ADMIN',
        `cannot describe topics ${names.join(', ')}: ${describeError(error)}`,
        { cause: error },
      );
    }
    const configsByTopic = new Map<string, Record<string, string>>();
    if (options.withConfigs ?? true) {
      const result = await this.admin.describeConfigs({
        includeSynonyms: false,
        resources: names.map((name) => ({ type: TOPIC_RESOURCE, name })),
      });
      for (const resource of result.resources) {
        const configs: Record<string, string> = {};
        for (const entry of resource.configEntries) configs[entry.configName] = entry.configValue;
        configsByTopic.set(resource.resourceName, configs);
      }
    }
    return metadata.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions
        .map((p) => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas }))
        .sort((a, b) => a.partition - b.partition),
      configs: configsByTopic.get(t.name) ?? {},
    }));
  }

  /** Partition count of a topic, or undefined if it does not exist. */
  async partitionCount(topic: string): Promise<number | undefined> {
    if (!(await this.listTopics()).includes(topic)) return undefined;
    const [description] = await this.describeTopics([topic], { withConfigs: false });
    return description?.partitions.length;
  }

  /**
   * Earliest and next offsets of every partition of `topic`. Retries
   * retriable errors: right after a topic is created (by this or another
   * instance) the cached metadata may name no leader or an old one
   * (NOT_LEADER_FOR_PARTITION), which a metadata refresh cures.
   */
  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const offsets = await this.retrying(
      () => this.admin.fetchTopicOffsets(topic),
      () => this.admin.fetchTopicMetadata({ topics: [topic] }).then(() => undefined),
    );
    return offsets
      .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
      .sort((a, b) => a.partition - b.partition);
  }

  /**
   * Runs `call`, retrying errors kafkajs marks retriable with exponential
   * backoff (100 ms doubling to 2 s, about 15 s in all), running `refresh`
   * before each retry. Other errors, and the last one, are thrown as they are.
   */
  private async retrying<T>(call: () => Promise<T>, refresh: () => Promise<void>): Promise<T> {
    let delayMs = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!retriable || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 2000);
        await refresh().catch(() => undefined);
      }
    }
  }

  /** For each partition, the first offset whose timestamp is >= `timestampMs` (the end offset if none). */
  async offsetsForTime(topic: string, timestampMs: number): Promise<{ partition: number; offset: string }[]> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return offsets
      .map((o) => ({ partition: o.partition, offset: o.offset }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** The committed offsets of a consumer group for the given topics. */
  async groupOffsets(groupId: string, topics: readonly string[]): Promise<GroupOffset[]> {
    const result = await this.admin.fetchOffsets({ groupId, topics: [...topics] });
    return result.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })),
    );
  }

  /** Sets a (stopped) group's committed offsets; the group must have no active members. */
  async setGroupOffsets(
    groupId: string,
    topic: string,
    partitions: readonly { partition: number; offset: string }[],
  ): Promise<void> {
    try {
      await this.admin.setOffsets({ groupId, topic, partitions: [...partitions] });
    } catch (error) {
      throw new KafkaError(
        'CTR_KAFKA_ADMIN',
        `cannot set offsets of group "${groupId}" on "${topic}": ${describeError(error)}`,
        { cause: error, topic },
      );
    }
  }

  async listGroups(): Promise<string[]> {
    const { groups } = await this.admin.listGroups();
    return groups.map((g) => g.groupId);
  }

  /** Members of a group and the partitions assigned to each (empty when the group is not running). */
  async describeGroup(
    groupId: string,
  ): Promise<{ state: string; members: { memberId: string; clientId: string; host: string }[] }> {
    const { groups } = await this.admin.describeGroups([groupId]);
    const group = groups[0];
    if (!group) return { state: 'Dead', members: [] };
    return {
      state: group.state,
      members: group.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.clientHost })),
    };
  }

  /** Deletes consumer groups that exist and are empty; unknown groups are ignored. */
  async deleteGroups(groupIds: readonly string[]): Promise<string[]> {
    const existing = new Set(await this.listGroups());
    const present = groupIds.filter((g) => existing.has(g));
    if (present.length === 0) return [];
    try {
      await this.admin.deleteGroups(present);
    } catch (error) {
      throw new KafkaError(
        'CTR_KAFKA_ADMIN',
        `cannot delete groups ${present.join(', ')}: ${describeError(error)}`,
        { cause: error },
      );
    }
    return present;
  }
}
