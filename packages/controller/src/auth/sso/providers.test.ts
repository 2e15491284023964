import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZtkaError } from '@ztka/protocol';
import { checkProviderSettings, type ProviderSettings } from './providers.js';

const settings = (allowedDomains: string[]): ProviderSettings => ({
  displayName: 'Example',
  issuer: 'https://id.example.com/realms/ztka',
  clientId: 'ztka',
  scopes: ['openid', 'email'],
  usernameClaim: 'email',
  emailClaim: 'email',
  groupsClaim: 'groups',
  allowedDomains,
  groupMapping: {},
  groupsByName: false,
  caPem: null,
  maxSessionSeconds: 8 * 3600,
  deviceFlow: false,
});

test('allowed email domains are lowercase domain names built of DNS-1123 labels', () => {
  for (const ok of ['rafay.co', 'eu.corp.example.com', 'x1-2.io', `${'a'.repeat(63)}.com`])
    assert.doesNotThrow(() => checkProviderSettings(settings([ok])), ok);
  for (const bad of [
    'Rafay.co',
    'localhost',
    '-a.com',
    'a-.com',
    'a..com',
    'a.c0m',
    `${'a'.repeat(64)}.com`,
    '*.example.com',
  ])
    assert.throws(
      () => checkProviderSettings(settings([bad])),
      (err: unknown) => err instanceof ZtkaError && err.field === '/allowedDomains',
      bad,
    );
});
