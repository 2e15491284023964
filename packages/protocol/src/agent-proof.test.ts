import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  AGENT_PROOF_WINDOW_MS,
  agentCredentialId,
  agentKeyFingerprint,
  generateAgentKey,
  parseAgentPublicKey,
  signAgentProof,
  verifyAgentProof,
  type AgentProofClaims,
} from './agent-proof.js';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0, 123);
const CLAIMS: AgentProofClaims = {
  credentialId: 'AbCdEfGhIjKl',
  clusterIdentity: '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f',
  jitNamespace: 'ztka-system',
};

function agent() {
  const pair = generateAgentKey();
  const publicKey = parseAgentPublicKey(pair.publicKey);
  assert.ok(publicKey);
  return { privateKey: createPrivateKey(pair.privateKeyPem), publicKey, encoded: pair.publicKey };
}

test('a proof made with the registered key verifies, and names its time and nonce', () => {
  const a = agent();
  const proof = signAgentProof(a.privateKey, CLAIMS, NOW, 'n'.repeat(22));
  assert.match(proof, /^v1\.\d{13}\.n{22}\.[A-Za-z0-9_-]{86}$/);
  assert.deepEqual(verifyAgentProof(proof, a.publicKey, CLAIMS, NOW), {
    ok: true,
    at: NOW,
    nonce: 'n'.repeat(22),
  });
  // Each proof has a nonce of its own.
  const nonces = new Set(
    Array.from({ length: 50 }, () => signAgentProof(a.privateKey, CLAIMS).split('.')[2]),
  );
  assert.equal(nonces.size, 50);
});

test('a proof made with another key is refused', () => {
  const a = agent();
  const thief = agent();
  const proof = signAgentProof(thief.privateKey, CLAIMS, NOW);
  assert.deepEqual(verifyAgentProof(proof, a.publicKey, CLAIMS, NOW), { ok: false, reason: 'signature' });
});

test('a proof for other claims, or altered in any part, is refused', () => {
  const a = agent();
  const proof = signAgentProof(a.privateKey, CLAIMS, NOW);
  for (const other of [
    { ...CLAIMS, credentialId: 'ZZCdEfGhIjKl' },
    { ...CLAIMS, clusterIdentity: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' },
    { ...CLAIMS, jitNamespace: 'kube-system' },
  ])
    assert.deepEqual(verifyAgentProof(proof, a.publicKey, other, NOW), { ok: false, reason: 'signature' });

  const [v, at, nonce, signature] = proof.split('.') as [string, string, string, string];
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const altered of [
    [v, String(Number(at) + 1), nonce, signature],
    [v, at, flip(nonce, 0), signature],
    [v, at, nonce, flip(signature, 10)],
  ])
    assert.deepEqual(verifyAgentProof(altered.join('.'), a.publicKey, CLAIMS, NOW), {
      ok: false,
      reason: 'signature',
    });
  for (const junk of [
    '',
    'v1',
    `v2.${at}.${nonce}.${signature}`,
    `${proof}.x`,
    proof.slice(0, -1),
    'x'.repeat(300),
  ])
    assert.deepEqual(verifyAgentProof(junk, a.publicKey, CLAIMS, NOW), { ok: false, reason: 'malformed' });
});

test('a proof dated outside the window either way is refused as such', () => {
  const a = agent();
  for (const skew of [AGENT_PROOF_WINDOW_MS, -AGENT_PROOF_WINDOW_MS, 0, 1000])
    assert.equal(
      verifyAgentProof(signAgentProof(a.privateKey, CLAIMS, NOW - skew), a.publicKey, CLAIMS, NOW).ok,
      true,
    );
  for (const skew of [AGENT_PROOF_WINDOW_MS + 1, -AGENT_PROOF_WINDOW_MS - 1, 24 * 3600_000])
    assert.deepEqual(
      verifyAgentProof(signAgentProof(a.privateKey, CLAIMS, NOW - skew), a.publicKey, CLAIMS, NOW),
      {
        ok: false,
        reason: 'clock',
      },
    );
  // The clock is checked only once the signature holds: a forger learns nothing from it.
  const thief = agent();
  assert.deepEqual(
    verifyAgentProof(signAgentProof(thief.privateKey, CLAIMS, NOW - 3600_000), a.publicKey, CLAIMS, NOW),
    { ok: false, reason: 'signature' },
  );
});

test('only an Ed25519 public key in SPKI DER base64url is accepted', () => {
  assert.ok(parseAgentPublicKey(generateAgentKey().publicKey));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  for (const bad of [
    rsa.export({ type: 'spki', format: 'der' }).toString('base64url'),
    p256.export({ type: 'spki', format: 'der' }).toString('base64url'),
    generateAgentKey().privateKeyPem,
    '',
    'not base64!',
    'AAAA',
    'A'.repeat(2000),
    42,
    undefined,
  ])
    assert.equal(parseAgentPublicKey(bad), undefined, String(bad).slice(0, 40));
});

test('fingerprints and credential ids', () => {
  const { publicKey } = generateAgentKey();
  assert.match(agentKeyFingerprint(publicKey), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(agentCredentialId('ztka_AbCdEfGhIjKl.secretpart'), 'AbCdEfGhIjKl');
  assert.equal(agentCredentialId('garbage'), '');
});
