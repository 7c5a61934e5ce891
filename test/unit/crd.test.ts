import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles } from '../../src/api/crd.ts';

describe('the committed CRDs', () => {
  it.each(Object.entries(crdFiles()))('%s matches src/api/schema.ts (run `node src/main.ts crds` after changing it)', (file, text) => {
    expect(readFileSync(join(import.meta.dirname, '../../crds', file), 'utf8')).toBe(text);
  });
});
