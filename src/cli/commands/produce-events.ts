/**
 * `ctr-streams produce-events`: publishes the synthetic world (items,
 * impressions, clicks from the known ground truth) to Kafka in the Avro wire
 * format at a given rate, for as long as asked.
 */
import type { Command } from 'commander';
import { createKafka } from '../../kafka/index.ts';
import { World } from '../../ml/index.ts';
import { EventProducer } from '../../pipeline/event-producer.ts';
import { Pipeline } from '../../pipeline/pipeline.ts';
import { pipelineSerdes } from '../../../topologies/events.ts';
import { topicNames } from '../../../topologies/topics.ts';
import { defaultBootstrap, nonNegativeNumber, positiveInt } from './options.ts';

export function registerProduceEvents(program: Command): void {
  program
    .command('produce-events')
    .description(
      'publish generated items, impressions and clicks (Avro) at a rate, from a world with a known ground truth',
    )
    .option('--bootstrap <servers>', 'bootstrap.servers', defaultBootstrap())
    .option('--topic-prefix <prefix>', 'prefix of the topic names ("" = plain names)', '')
    .option('--rate <lists/s>', 'impressions (shown lists) per second', positiveInt('--rate'), 200)
    .option('--new-items <items/s>', 'new items per second', nonNegativeNumber('--new-items'), 1)
    .option(
      '--item-delay <ms>',
      'publish a new item this long after its first impressions (shows the OOV path)',
      nonNegativeNumber('--item-delay'),
      0,
    )
    .option(
      '--duration <s>',
      'stop after this many seconds (default: until Ctrl-C)',
      nonNegativeNumber('--duration'),
    )
    .option('--seed <n>', 'world seed (the same seed gives the same world)', positiveInt('--seed'), 1)
    .option('--no-catalogue', 'do not publish the existing items first')
    .action(
      async (o: {
        bootstrap: string;
        topicPrefix: string;
        rate: number;
        newItems: number;
        itemDelay: number;
        duration?: number;
        seed: number;
        catalogue: boolean;
      }) => {
        const kafka = createKafka({ bootstrapServers: o.bootstrap, clientId: 'ctr-produce-events' });
        const topics = topicNames(o.topicPrefix);
        await Pipeline.createTopics(kafka, topics);
        const producer = new EventProducer({
          kafka,
          topics,
          serdes: pipelineSerdes(),
          world: new World({ seed: o.seed }),
          impressionsPerSecond: o.rate,
          newItemsPerSecond: o.newItems,
          itemCreatedDelayMs: o.itemDelay,
        });
        const stop = (): void => producer.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (o.catalogue)
          console.log(`published ${await producer.publishCatalogue()} items to ${topics.itemCreated}`);
        const timer = setInterval(
          () =>
            process.stdout.write(
              `\rproduced: ${producer.counts.items} items, ${producer.counts.impressions} impressions, ${producer.counts.clicks} clicks   `,
            ),
          1000,
        );
        try {
          await producer.run(o.duration === undefined ? undefined : o.duration * 1000);
        } finally {
          clearInterval(timer);
          await producer.close();
        }
        console.log(
          `\ndone: ${producer.counts.items} items, ${producer.counts.impressions} impressions, ${producer.counts.clicks} clicks`,
        );
      },
    );
}
