/**
 * The operations commands (run, describe, replay, reset, store, ...), one
 * file each; main.ts registers them all through this one call.
 */
import type { Command } from 'commander';
import { registerBackfill } from './backfill.ts';
import { registerConsume } from './consume.ts';
import { registerDescribe } from './describe.ts';
import { registerDocs } from './docs.ts';
import { registerProduce } from './produce.ts';
import { registerReplay } from './replay.ts';
import { registerReset } from './reset.ts';
import { registerRun } from './run.ts';
import { registerStore } from './store.ts';
import { registerTrain } from './train.ts';

export function registerOperationsCommands(program: Command): void {
  registerRun(program);
  registerDescribe(program);
  registerReplay(program);
  registerReset(program);
  registerBackfill(program);
  registerProduce(program);
  registerConsume(program);
  registerTrain(program);
  registerDocs(program);
  registerStore(program);
}
