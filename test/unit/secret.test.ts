import { describe, expect, it } from 'vitest';
import { previewMatches } from '../../src/controller/member/secret.ts';

describe('key previews', () => {
  const key = `sk-or-v1-${'ab12'.repeat(16)}`;
  it('matches only the key it masks', () => {
    expect(previewMatches(`sk-or-v1-${key.slice(9, 12)}...${key.slice(-3)}`, key)).toBe(true);
    expect(previewMatches(`sk-or-v1-fff...${key.slice(-3)}`, key)).toBe(false);
    expect(previewMatches('Production key', key)).toBe(false);
  });
});
