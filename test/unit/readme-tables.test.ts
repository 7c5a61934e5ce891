/**
 * The docs' generated tables (refused input in docs/security.md, the fault suite in docs/faults.md) are what
 * hack/readme.ts makes from the tests' own data (run `make readme`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLE_FILES, TABLES, withTables } from '../../hack/readme/tables.ts';
import { refusalRows } from '../../hack/readme/refusals.ts';
import { CREDENTIAL_CASES } from '../refusals/operator.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('generated tables', () => {
  it.each(TABLE_FILES)('%s holds its tables as generated (run `make readme`)', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect(text).toBe(withTables(file, text));
  });
  it('puts each table in a file that has its markers, once', () => {
    for (const [name, { file }] of Object.entries(TABLES)) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text.split(`<!-- ${name}:start -->`).length - 1, `${file}: ${name}:start`).toBe(1);
      expect(text.split(`<!-- ${name}:end -->`).length - 1, `${file}: ${name}:end`).toBe(1);
    }
  });
  it('keeps no generated table in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const name of Object.keys(TABLES)) expect(readme).not.toContain(`<!-- ${name}:start -->`);
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
