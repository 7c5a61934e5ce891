import { describe, expect, it } from 'vitest';
import { RotationSlots } from '../../src/controller/slots.ts';

describe('RotationSlots', () => {
  it('holds a slot until the cache shows the rotation, counts it from there, and wakes those turned away', () => {
    let now = 0;
    const flying = new Set<string>();
    const slots = new RotationSlots(2, { now: () => now }, () => flying);
    expect(slots.take('a')).toBe(true);
    expect(slots.take('b')).toBe(true);
    expect(slots.take('a'), 'a member holding a slot keeps it').toBe(true);
    expect(slots.take('c')).toBe(false);
    flying.add('a'); // the cache caught up with a's rotation
    expect(slots.take('c')).toBe(false);
    flying.delete('a'); // a's rotation ended
    expect(slots.wake()).toEqual(['c']);
    expect(slots.wake(), 'woken once').toEqual([]);
    expect(slots.take('c')).toBe(true);
    now = 31_000; // b never showed up in the cache: its hold expires
    expect(slots.take('d')).toBe(true);
  });
});
