/**
 * Named: an explicit name for a DSL operator's processor node. Explicit names
 * keep `describe` output, state directories and `describe --diff` stable when
 * the topology changes; generated names (`KSTREAM-FILTER-0000000003`) shift.
 */
import { TopologyError } from '../../errors.ts';

export class Named {
  private constructor(readonly name: string) {}

  /** @throws TopologyError when the name is empty. */
  static as(name: string): Named {
    checkName(name, 'operator');
    return new Named(name);
  }
}

/** @throws TopologyError when `name` is not a non-empty string. */
export function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new TopologyError(`a ${what} name must be a non-empty string`);
}
