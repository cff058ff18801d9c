/**
 * A sticky, co-partitioning partition assigner for kafkajs groups (the part
 * of Kafka Streams' StreamsPartitionAssignor this engine needs).
 *
 * Co-partitioning: a stream task joins partition p of every source topic of
 * its sub-topology, so partition p of ALL subscribed topics goes to the same
 * member. kafkajs's RoundRobinAssigner spreads each topic independently and
 * would split a task across members.
 *
 * Stickiness: a member's protocol metadata carries the partition numbers it
 * owns now; the leader keeps each member's partitions (up to its fair share,
 * ceil(P / members)) and spreads the rest to the least loaded members. A
 * task that stays put keeps its local state and restores nothing.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const PARTITION_GROUP_ASSIGNER = 'CtrPartitionGroupAssigner';

interface OwnedData {
  owned: number[];
  /** `application.server` (host:port) of the member, for interactive queries; absent when not announced. */
  server?: string;
}

function encodeUserData(owned: readonly number[], server?: string): Buffer {
  return Buffer.from(
    JSON.stringify({ owned: [...owned], ...(server ? { server } : {}) } satisfies OwnedData),
  );
}

/** The `application.server` a member announced in its group metadata (see group-members.ts), or undefined. */
export function decodeServer(data: Buffer | null | undefined): string | undefined {
  if (!data || data.length === 0) return undefined;
  try {
    const parsed = JSON.parse(data.toString('utf8')) as Partial<OwnedData>;
    return typeof parsed.server === 'string' ? parsed.server : undefined;
  } catch {
    return undefined;
  }
}

function decodeUserData(data: Buffer | null | undefined): number[] {
  if (!data || data.length === 0) return [];
  try {
    const parsed = JSON.parse(data.toString('utf8')) as Partial<OwnedData>;
    return Array.isArray(parsed.owned) ? parsed.owned.filter((p) => Number.isInteger(p)) : [];
  } catch {
    return [];
  }
}

/**
 * Pure assignment logic, exported for tests.
 * @param partitionCount the number of partition numbers to hand out (max over topics).
 * @param members member id -> partition numbers it owns now.
 * @returns member id -> partition numbers, every number in [0, partitionCount) exactly once.
 */
export function assignPartitionGroups(
  partitionCount: number,
  members: ReadonlyMap<string, readonly number[]>,
): Map<string, number[]> {
  const ids = [...members.keys()].sort();
  const result = new Map<string, number[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return result;
  const quota = Math.ceil(partitionCount / ids.length);
  const taken = new Set<number>();
  for (const id of ids) {
    for (const p of members.get(id) ?? []) {
      if (p < 0 || p >= partitionCount || taken.has(p)) continue;
      const mine = result.get(id)!;
      if (mine.length >= quota) break;
      mine.push(p);
      taken.add(p);
    }
  }
  // the rest to the least loaded, then even out: kept partitions may leave a newcomer with nothing
  for (let p = 0; p < partitionCount; p++) {
    if (taken.has(p)) continue;
    const target = ids.reduce(
      (best, id) => (result.get(id)!.length < result.get(best)!.length ? id : best),
      ids[0]!,
    );
    result.get(target)!.push(p);
    taken.add(p);
  }
  for (;;) {
    const byLoad = [...ids].sort(
      (x, y) => result.get(x)!.length - result.get(y)!.length || x.localeCompare(y),
    );
    const least = result.get(byLoad[0]!)!;
    const most = result.get(byLoad[byLoad.length - 1]!)!;
    if (most.length <= least.length + 1) break;
    least.push(most.pop()!);
  }
  for (const list of result.values()) list.sort((a, b) => a - b);
  return result;
}

/**
 * Builds the kafkajs assigner.
 * @param owned returns the partition numbers this member owns now (sent as metadata on every join).
 */
export function createPartitionGroupAssigner(
  owned: () => readonly number[],
  server?: string,
): PartitionAssigner {
  return ({ cluster }) => ({
    name: PARTITION_GROUP_ASSIGNER,
    version: 1,
    async assign({ members, topics }) {
      let partitionCount = 0;
      const partitionsOf = new Map<string, number[]>();
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        partitionsOf.set(topic, partitions);
        partitionCount = Math.max(partitionCount, partitions.length);
      }
      const ownedBy = new Map<string, number[]>();
      for (const member of members) {
        const metadata = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
        ownedBy.set(member.memberId, decodeUserData(metadata?.userData));
      }
      const groups = assignPartitionGroups(partitionCount, ownedBy);
      return [...groups].map(([memberId, numbers]) => {
        const assignment: { [topic: string]: number[] } = {};
        for (const [topic, partitions] of partitionsOf) {
          const mine = numbers.filter((p) => partitions.includes(p));
          if (mine.length > 0) assignment[topic] = mine;
        }
        return {
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment,
            userData: Buffer.alloc(0),
          }),
        };
      });
    },
    protocol({ topics }) {
      return {
        name: PARTITION_GROUP_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: encodeUserData(owned(), server),
        }),
      };
    },
  });
}
