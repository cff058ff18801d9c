/**
 * Who is in a consumer group and what each member holds: the members'
 * announced `application.server` (from the partition-group assigner's
 * metadata) and their current assignments, as the group coordinator reports
 * them. Interactive queries use it to find the instance that holds a key.
 */
import { AssignerProtocol, type Kafka } from 'kafkajs';
import { describeError, KafkaError } from './errors.ts';
import { decodeServer } from './partition-group-assigner.ts';

export interface GroupMember {
  memberId: string;
  clientId: string;
  /** The host the coordinator sees the member connect from. */
  clientHost: string;
  /** `application.server` the member announced (host:port); undefined when it announced none. */
  server: string | undefined;
  /** topic -> partitions assigned to the member in the current generation. */
  assignment: Map<string, number[]>;
}

/**
 * The members of `groupId` and their assignments.
 * @returns [] when the group has no members (or is rebalancing: assignments are empty then).
 * @throws KafkaError CTR_KAFKA_ADMIN when the coordinator cannot be asked.
 */
export async function describeGroupMembers(kafka: Kafka, groupId: string): Promise<GroupMember[]> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups.find((g) => g.groupId === groupId);
    if (group === undefined) return [];
    return group.members.map((m) => {
      const metadata =
        m.memberMetadata.length > 0 ? AssignerProtocol.MemberMetadata.decode(m.memberMetadata) : null;
      const assigned =
        m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
      const assignment = new Map<string, number[]>();
      for (const [topic, partitions] of Object.entries(assigned?.assignment ?? {}))
        assignment.set(
          topic,
          [...partitions].sort((a, b) => a - b),
        );
      return {
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        server: decodeServer(metadata?.userData),
        assignment,
      };
    });
  } catch (error) {
    throw new KafkaError(
      'CTR_KAFKA_ADMIN',
      `cannot describe consumer group "${groupId}": ${describeError(error)}`,
      { cause: error, retriable: true },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
