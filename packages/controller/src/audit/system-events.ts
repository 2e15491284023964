// System events go into the audit chain like every other record. Written before the API answers, so an
// action the caller saw succeed is on record. Never holds a secret.
import { randomUUID } from 'node:crypto';
import type { AuditLog } from './log.js';

export interface SystemEvent {
  kind: string;
  orgId: string;
  actor?: string | null;
  sourceIp?: string | null;
  detail?: Record<string, unknown>;
}

export class SystemEvents {
  constructor(
    private readonly log: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  record(event: SystemEvent): Promise<void> {
    return this.log.append(event.orgId, {
      kind: 'system',
      id: randomUUID(),
      at: this.clock(),
      event: event.kind,
      user: event.actor ?? null,
      ...(event.sourceIp ? { sourceIp: event.sourceIp } : {}),
      detail: event.detail ?? {},
    });
  }
}
