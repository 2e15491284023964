// The relying party's checks of an ID token, against a stand-in provider whose token endpoint returns tokens
// crafted to fail one check each: signed by a key the provider does not publish, expired, for another
// nonce, issuer or audience. The checks are openid-client's; this tests that each is made, and worded.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { selfSignedCert } from '@ztka/testenv';
import { OidcClients, OidcError } from './oidc.js';
import { PROVIDER_DEFAULTS, type Provider } from './providers.js';

let server: https.Server;
let issuer: string;
let caPem: string;
let good: CryptoKey;
let rogue: CryptoKey;
let nextToken: (body: URLSearchParams) => Promise<string>;

before(async () => {
  const pair = await generateKeyPair('RS256');
  good = pair.privateKey;
  ({ privateKey: rogue } = await generateKeyPair('RS256'));
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'RS256' };
  const tls = selfSignedCert();
  caPem = tls.cert;
  server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration')
      return send(200, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    if (req.url === '/jwks') return send(200, { keys: [jwk] });
    if (req.url === '/token' && req.method === 'POST') {
      let raw = '';
      req.setEncoding('utf8').on('data', (c: string) => (raw += c));
      req.on('end', () => {
        void nextToken(new URLSearchParams(raw)).then((idToken) =>
          send(200, { access_token: 'at', token_type: 'Bearer', expires_in: 60, id_token: idToken }),
        );
      });
      return;
    }
    send(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

const provider = (): Provider => ({
  ...PROVIDER_DEFAULTS,
  id: 'p1',
  orgId: 'o1',
  name: 'test',
  displayName: 'Test',
  issuer,
  clientId: 'ztka',
  clientSecret: 'secret',
  caPem,
  updatedAt: 1,
});

/** An ID token as a provider would sign it, with `over` changing claims or the key. */
function idToken(over: { key?: CryptoKey; claims?: Record<string, unknown>; expSeconds?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice', nonce: 'n-1', email: 'a@rafay.co', ...over.claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer((over.claims?.['iss'] as string | undefined) ?? issuer)
    .setAudience((over.claims?.['aud'] as string | undefined) ?? 'ztka')
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (over.expSeconds ?? 300))
    .sign(over.key ?? good);
}

async function redeem(token: () => Promise<string>): Promise<unknown> {
  nextToken = () => token();
  const clients = new OidcClients('https://ztka.example/v1/auth/sso/callback');
  const callback = new URL(`https://ztka.example/v1/auth/sso/callback?code=c&state=s-1`);
  return clients.redeem(provider(), callback, { state: 's-1', nonce: 'n-1', verifier: 'v'.repeat(43) });
}

async function refusal(token: () => Promise<string>): Promise<OidcError> {
  try {
    await redeem(token);
  } catch (err) {
    assert.ok(err instanceof OidcError, String(err));
    return err;
  }
  assert.fail('the token was accepted');
}

test('a well-formed token is accepted, and its claims come back', async () => {
  const result = (await redeem(() => idToken())) as { claims: Record<string, unknown> };
  assert.equal(result.claims['sub'], 'alice');
  assert.equal(result.claims['email'], 'a@rafay.co');
});

test('a token signed with a key the provider does not publish is refused as a bad signature', async () => {
  const why = await refusal(() => idToken({ key: rogue }));
  assert.equal(why.reason, 'bad_signature');
  assert.match(why.message, /signature/);
});

test('an expired token is refused, and says so', async () => {
  const why = await refusal(() => idToken({ expSeconds: -120 }));
  assert.equal(why.reason, 'token_expired');
  assert.match(why.message, /expired/);
});

test('a token for another nonce, issuer or audience is refused, naming which', async () => {
  assert.equal((await refusal(() => idToken({ claims: { nonce: 'other' } }))).reason, 'nonce_mismatch');
  assert.equal(
    (await refusal(() => idToken({ claims: { iss: 'https://evil.example' } }))).reason,
    'issuer_mismatch',
  );
  assert.equal(
    (await refusal(() => idToken({ claims: { aud: 'another-client' } }))).reason,
    'audience_mismatch',
  );
});

test('a callback whose state is not the login’s is refused before any token is asked for', async () => {
  nextToken = () => assert.fail('no token request for a mismatched state');
  const clients = new OidcClients('https://ztka.example/v1/auth/sso/callback');
  await assert.rejects(
    clients.redeem(provider(), new URL('https://ztka.example/v1/auth/sso/callback?code=c&state=forged'), {
      state: 's-1',
      nonce: 'n-1',
      verifier: 'v'.repeat(43),
    }),
    (err: unknown) => err instanceof OidcError && err.reason === 'state_mismatch',
  );
});
