import { describe, expect, it } from 'vitest';
import { mergePatch } from '../../src/controller/mergepatch.ts';

describe('mergePatch', () => {
  it.each([
    [{ a: 1 }, { a: 1 }, undefined],
    [{ a: 1 }, { a: 2 }, { a: 2 }],
    [{ a: 1, b: 2 }, { a: 1 }, { b: null }],
    [{ x: { y: 1, z: 2 } }, { x: { y: 1 } }, { x: { z: null } }],
    [{ l: [1, 2] }, { l: [1, 2] }, undefined],
    [{ l: [1, 2] }, { l: [2] }, { l: [2] }],
    [{}, { n: { m: 1 } }, { n: { m: 1 } }],
  ])('%j -> %j is %j', (from, to, want) => {
    expect(mergePatch(from, to)).toEqual(want);
  });
});
