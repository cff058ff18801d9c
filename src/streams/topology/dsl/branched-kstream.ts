/**
 * BranchedKStream: the result of `KStream.split()`. Each `branch` adds a
 * predicate; a record goes to the FIRST branch whose predicate holds.
 * `defaultBranch` takes the rest; `noDefaultBranch` drops them. Both end the
 * split and return the branches by name: `<split name><branch name>`, the
 * branch name being Branched.as(...) or its 1-based position ("0" for the
 * default branch), as in Kafka Streams.
 */
import { TopologyError } from '../../errors.ts';
import type { Branched } from './branched.ts';
import { KStream } from './kstream.ts';
import { branchProcessor, passThroughProcessor } from './stateless-processors.ts';

interface BranchSpec<K, V> {
  predicate: (key: K, value: V) => boolean;
  branched: Branched<K, V> | undefined;
}

export class BranchedKStream<K, V> {
  private readonly branches: Array<BranchSpec<K, V>> = [];
  private done = false;

  /** @internal use KStream.split */
  constructor(
    private readonly parent: KStream<K, V>,
    private readonly splitName: string,
  ) {}

  branch(predicate: (key: K, value: V) => boolean, branched?: Branched<K, V>): this {
    this.checkOpen();
    this.branches.push({ predicate, branched });
    return this;
  }

  /** Records no predicate matched go to this branch. Ends the split. */
  defaultBranch(branched?: Branched<K, V>): Map<string, KStream<any, any>> {
    return this.finish(branched ?? null);
  }

  /** Records no predicate matched are dropped. Ends the split. */
  noDefaultBranch(): Map<string, KStream<any, any>> {
    return this.finish(undefined);
  }

  private checkOpen(): void {
    if (this.done)
      throw new TopologyError(`split "${this.splitName}" is already ended by defaultBranch/noDefaultBranch`);
  }

  private finish(defaultBranched: Branched<K, V> | null | undefined): Map<string, KStream<any, any>> {
    this.checkOpen();
    this.done = true;
    const builder = this.parent.builder;
    const names = this.branches.map((b, i) => this.splitName + (b.branched?.name ?? String(i + 1)));
    const hasDefault = defaultBranched !== undefined;
    const defaultName = hasDefault ? this.splitName + (defaultBranched?.name ?? '0') : undefined;
    const all = defaultName === undefined ? names : [...names, defaultName];
    const duplicate = all.find((n, i) => all.indexOf(n) !== i);
    if (duplicate !== undefined)
      throw new TopologyError(`split "${this.splitName}" has two branches named "${duplicate}"`);
    builder.topology.addProcessor(
      this.splitName,
      branchProcessor(
        this.branches.map((b) => b.predicate),
        names,
        defaultName,
      ),
      this.parent.nodeName,
    );
    const result = new Map<string, KStream<any, any>>();
    const specs: Array<[string, Branched<K, V> | undefined]> = this.branches.map((b, i) => [
      names[i]!,
      b.branched,
    ]);
    if (defaultName !== undefined) specs.push([defaultName, defaultBranched ?? undefined]);
    for (const [name, branched] of specs) {
      builder.topology.addProcessor(name, passThroughProcessor(), this.splitName);
      const stream = new KStream<K, V>(
        builder,
        name,
        this.parent.keySerde,
        this.parent.valueSerde,
        this.parent.repartitionRequired,
      );
      if (branched?.fn === undefined) {
        result.set(name, stream);
      } else {
        const out = branched.fn(stream);
        if (branched.returnsStream && out) result.set(name, out);
      }
    }
    return result;
  }
}
