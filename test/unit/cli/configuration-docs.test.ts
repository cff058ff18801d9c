import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { renderConfigDocs } from '../../../src/streams/config.ts';

describe('docs/configuration.md', () => {
  it('is the config table rendered (regenerate: ctr-streams docs configuration > docs/configuration.md)', () => {
    const docs = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    // state.dir defaults to the OS temp dir: the file shows the CI value (/tmp)
    const expected = renderConfigDocs()
      .split(JSON.stringify(`${tmpdir()}/ctr-streams`))
      .join('"/tmp/ctr-streams"');
    assert.equal(docs, expected);
  });
});
