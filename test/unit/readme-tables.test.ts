/** The README's generated tables are what hack/readme.ts makes from the tests' own data (run `make readme`). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withTables } from '../../hack/readme/tables.ts';
import { refusalRows } from '../../hack/readme/refusals.ts';
import { CREDENTIAL_CASES } from '../refusals/operator.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('README.md', () => {
  it('holds the tables as generated (run `make readme`)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toBe(withTables(readme));
  });
  it('lists at least 60 refused inputs, each once', () => {
    const inputs = refusalRows().map(([input]) => input);
    expect(inputs.length).toBeGreaterThanOrEqual(60);
    expect(new Set(inputs).size).toBe(inputs.length);
  });
  it('names, for each management-key row, a scenario that exists in credentials.test.ts', () => {
    const file = readFileSync(join(ROOT, 'test/integration/credentials.test.ts'), 'utf8');
    for (const c of CREDENTIAL_CASES) expect(file, c.test).toContain(`it('${c.test}'`);
  });
});
