/**
 * The official @openrouter/sdk validates every response with zod schemas generated from a newer revision of the
 * OpenAPI document than the snapshot in spec/; if the emulator misses a field it requires, these calls throw.
 */
import { OpenRouter } from '@openrouter/sdk';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Harness } from './harness.ts';

let h: Harness;
let sdk: OpenRouter;
beforeAll(async () => {
  h = await startEmulator();
  sdk = new OpenRouter({ apiKey: h.mk, serverURL: `${h.base}/api/v1`, retryConfig: { strategy: 'none' } });
});
afterAll(() => h.emu.stop());

it('drives keys, current key, credits, guardrails and activity through the official SDK', async () => {
  const created = await sdk.apiKeys.create({ requestBody: { name: 'sdk-key', limit: 5, limitReset: 'monthly', expiresAt: new Date('2099-01-01T00:00:00Z') } });
  expect(created.data.hash).toMatch(/^[0-9a-f]{64}$/);
  expect(created.data.externalUser).toBeNull();
  const hash = created.data.hash;
  expect((await sdk.apiKeys.get({ hash })).data.name).toBe('sdk-key');
  const listed = await sdk.apiKeys.list({ includeDisabled: true });
  expect(listed.data.map((k) => k.hash)).toContain(hash);
  const updated = await sdk.apiKeys.update({ hash, requestBody: { limit: 7, disabled: false } });
  expect(updated.data.limit).toBe(7);
  const current = await sdk.apiKeys.getCurrentKeyMetadata();
  expect(current.data.isManagementKey).toBe(true);
  const memberSdk = new OpenRouter({ apiKey: created.key, serverURL: `${h.base}/api/v1`, retryConfig: { strategy: 'none' } });
  expect((await memberSdk.apiKeys.getCurrentKeyMetadata()).data.limit).toBe(7);
  expect((await sdk.credits.getCredits()).data.totalCredits).toBe(100);
  const g = await sdk.guardrails.create({ createGuardrailRequest: { name: 'sdk guardrail', allowedModels: ['openai/gpt-4o-mini'] } });
  expect(g.data.allowedModels).toEqual(['openai/gpt-4o-mini-2024-07-18']);
  expect((await sdk.guardrails.bulkAssignKeys({ id: g.data.id, bulkAssignKeysRequest: { keyHashes: [hash] } })).assignedCount).toBe(1);
  expect((await sdk.guardrails.get({ id: g.data.id })).data.name).toBe('sdk guardrail');
  // what the operator sends: every list (null clears one) and the per-group zero-data-retention flags
  const u = await sdk.guardrails.update({ id: g.data.id, updateGuardrailRequest: { allowedModels: null, ignoredProviders: ['deepinfra'], enforceZdrOpenai: true, enforceZdrOther: true } });
  expect(u.data.allowedModels ?? null).toBeNull();
  expect(u.data.ignoredProviders).toEqual(['deepinfra']);
  const assignments = await sdk.guardrails.listGuardrailKeyAssignments({ id: g.data.id });
  expect(assignments.result.data.map((a) => a.keyHash)).toEqual([hash]);
  const ws = await sdk.workspaces.create({ createWorkspaceRequest: { name: 'SDK', slug: 'sdk-ws' } });
  expect(ws.data.slug).toBe('sdk-ws');
  const activity = await sdk.analytics.getUserActivity();
  expect(Array.isArray(activity.data)).toBe(true);
  // what the operator's usage sync sends: spend and requests per key, model and day
  const meta = await sdk.analytics.getAnalyticsMeta();
  expect(meta.data.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['total_usage', 'request_count']));
  const q = await sdk.analytics.queryAnalytics({ requestBody: { metrics: ['total_usage', 'request_count'], dimensions: ['api_key_id', 'model'], granularity: 'day', timeRange: { start: new Date(Date.now() - 86_400_000), end: new Date() }, limit: 10_000 } });
  expect(q.data.metadata.truncated).toBe(false);
  expect((await sdk.apiKeys.delete({ hash })).deleted).toBe(true);
});

it('drives workspaces and their budgets through the official SDK', async () => {
  const ws = await sdk.workspaces.create({ createWorkspaceRequest: { name: 'Budgeted', slug: 'budgeted', description: 'pooled spend' } });
  const updated = await sdk.workspaces.update({ id: 'budgeted', updateWorkspaceRequest: { name: 'Budgeted team' } });
  expect(updated.data).toMatchObject({ id: ws.data.id, name: 'Budgeted team', description: 'pooled spend' });
  expect((await sdk.workspaces.get({ id: ws.data.id })).data.slug).toBe('budgeted');
  const set = await sdk.workspaces.setBudget({ workspaceRef: 'budgeted', interval: 'lifetime', upsertWorkspaceBudgetRequest: { limitUsd: 50, includeByokInBudgets: true } });
  expect(set).toMatchObject({ data: { limitUsd: 50, resetInterval: null, workspaceId: ws.data.id }, includeByokInBudgets: true });
  await sdk.workspaces.setBudget({ workspaceRef: ws.data.id, interval: 'daily', upsertWorkspaceBudgetRequest: { limitUsd: 5 } });
  expect((await sdk.workspaces.getBudget({ workspaceRef: 'budgeted', interval: 'daily' })).data.resetInterval).toBe('daily');
  expect((await sdk.workspaces.listBudgets({ workspaceRef: 'budgeted' })).data.map((b) => b.limitUsd)).toEqual([5, 50]);
  expect((await sdk.workspaces.deleteBudget({ workspaceRef: 'budgeted', interval: 'daily' })).deleted).toBe(true);
  expect((await sdk.workspaces.delete({ id: 'budgeted' })).deleted).toBe(true);
});
