/**
 * Every reason the operator gives, as types: the Ready condition's (why a member is or is not served) and the Events'
 * (what it did, or what stopped it). A new reason is added here, and docs/api.md says what it means.
 */

/** The Ready condition of a TeamMember. */
export type ReadyReason =
  | 'KeyReady'
  | 'Suspended'
  | 'Expired'
  | 'PolicyNotFound'
  | 'PolicyNotAllowed'
  | 'LimitAboveMax'
  | 'Inactive'
  | 'GuardrailPending'
  | 'WorkspacePending'
  | 'SecretConflict'
  | 'SecretRejected'
  | 'ReplacementThrottled'
  | 'DisabledOutside'
  | 'InvalidSpec'
  | 'StatusRejected';

/** Events about members, policies and workloads; a member's Ready turning False is also an Event of its reason. */
export type EventReason =
  | ReadyReason
  // a member's key
  | 'KeyRotated'
  | 'KeyReplaced'
  | 'KeyCompromised'
  | 'KeyDisabled'
  | 'KeyEnabled'
  | 'KeyUpdated'
  | 'KeyReactivated'
  | 'InactiveKeyDeleted'
  | 'KeyRevoked'
  | 'KeyRetained'
  | 'DriftCorrected'
  | 'CreateFailed'
  | 'OrphanRevoked'
  | 'PreviousKeyDisabled'
  | 'RotationStalled'
  | 'GuardrailReleased'
  // a member's budget
  | 'BudgetWarning'
  | 'BudgetExhausted'
  // a policy
  | 'GuardrailCreated'
  | 'GuardrailMoved'
  | 'GuardrailUpdated'
  | 'GuardrailDeleted'
  | 'GuardrailAssigned'
  | 'GuardrailDrift'
  | 'GuardrailRejected'
  | 'KeysReaped'
  | 'DeletionBlocked'
  | 'AnalyticsRowsSkipped'
  | 'WorkspaceCreated'
  | 'WorkspaceDeleted'
  | 'WorkspaceKept'
  | 'PoolBudgetSet'
  | 'PoolConflict'
  | 'PoolRejected'
  | 'WorkspaceNotReady'
  | 'PoolWarning'
  | 'PoolExhausted'
  // a workload
  | 'RestartedForNewKey'
  | 'RestartQueued'
  // the operator's management key
  | 'ManagementKeyValid'
  | 'ManagementKeyInvalid';
