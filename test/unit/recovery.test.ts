import { describe, expect, it } from 'vitest';
import { OpenRouterRecovery } from '../../src/controller/recovery.ts';
import { policyItem, type WorkItem } from '../../src/controller/workitem.ts';

const member = (namespace: string, name: string): WorkItem => ({ kind: 'member', namespace, name });

describe('OpenRouterRecovery', () => {
  it('hands back the members held by an outage once OpenRouter has answered cleanly for 10 s, once', () => {
    let now = 0;
    const r = new OpenRouterRecovery({ now: () => now });
    r.held(member('a', 'x'));
    now = 1_000;
    r.held(member('a', 'y'));
    expect(r.answered(502)).toEqual([]);
    now = 5_000;
    expect(r.answered(200)).toEqual([]); // a clean answer inside the storm: too soon
    now = 8_000;
    expect(r.answered('error')).toEqual([]); // a cut connection: the storm goes on
    now = 17_000;
    expect(r.answered(429)).toEqual([]);
    now = 26_999;
    expect(r.answered(201)).toEqual([]);
    now = 27_000;
    expect(r.answered(200)).toEqual([member('a', 'x'), member('a', 'y')]);
    expect(r.answered(200)).toEqual([]);
  });
  it('also holds a member retried for another reason while OpenRouter is in trouble, and only then', () => {
    let now = 0;
    const r = new OpenRouterRecovery({ now: () => now });
    r.retried(member('a', 'calm')); // no trouble seen: an ordinary retry keeps its backoff
    expect(r.answered(500)).toEqual([]);
    now = 1_000;
    r.retried(member('a', 'revoked')); // a create answered 500 after it committed: its key revoked, the member retried
    now = 12_000;
    expect(r.answered(200)).toEqual([member('a', 'revoked')]);
  });
  it('takes 4xx answers other than 429 for clean ones: they are about the request, not OpenRouter', () => {
    let now = 0;
    const r = new OpenRouterRecovery({ now: () => now });
    r.held(policyItem('p'));
    now = 20_000;
    expect(r.answered(404)).toEqual([policyItem('p')]);
  });
});
