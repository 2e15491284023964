import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import type { Handler } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome } from './testing/run-cli.js';

const PASSWORD = 'correct horse battery staple';
const CODE = '123456';
const URI = 'otpauth://totp/ztka:alice?secret=JBSWY3DPEHPK3PXP&issuer=ztka';

/** A controller whose account has TOTP on: the right password and CODE log in. */
const loginWithTotp: Handler = (req) => {
  const body = req.json as { password?: string; totp?: string };
  if (body.password !== PASSWORD)
    return { status: 401, json: { code: 'unauthorized', message: 'invalid username or password' } };
  if (body.totp === undefined)
    return {
      status: 401,
      json: {
        code: 'totp_required',
        message: 'this account requires a two-factor code: send the 6-digit code',
      },
    };
  if (body.totp !== CODE)
    return {
      status: 401,
      json: { code: 'unauthorized', message: 'the two-factor code is wrong or was already used' },
    };
  return { json: { user: 'alice', apiKey: { id: 'key-7', key: 'ztkk_key7.s3cr3t' } } };
};

test('a login to an account with TOTP sends the code from --totp or the line after the password', async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginWithTotp });
  const home = makeHome();
  const login = (extra: string[], input: string) =>
    home.run(['login', '--server', fake.url, '--username', 'alice', '--password-stdin', ...extra], { input });
  try {
    const piped = await login([], `${PASSWORD}\n${CODE}\n`);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(
      fake.requests.map((r) => (r.json as { password: string; totp?: string }).totp),
      [CODE],
    );
    assert.equal((fake.requests[0]?.json as { password: string }).password, PASSWORD);

    const flagged = await login(['--totp', CODE], PASSWORD);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.equal((fake.requests.at(-1)?.json as { totp?: string }).totp, CODE);

    // Asked for, but no terminal to ask at: what to do instead, and nothing stored from this attempt.
    const before = fake.requests.length;
    const missing = await login([], PASSWORD);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /^ztka: this account requires a two-factor code: pass --totp CODE, or send it on the line after the password/,
    );
    assert.equal(fake.requests.length, before + 1);

    const wrong = await login(['--totp', '654321'], PASSWORD);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, 'ztka: the two-factor code is wrong or was already used\n');

    const typo = await login(['--totp', '12a456'], PASSWORD);
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr, 'ztka: a two-factor code is the 6 digits your authenticator app shows\n');
  } finally {
    home.remove();
    await fake.close();
  }
});

test('a login the org holds back for enrolment says to enrol at a terminal, and stores nothing', async () => {
  const fake = await startFake({
    'POST /v1/auth/login': () => ({
      status: 403,
      json: {
        code: 'totp_enrolment_required',
        message: 'this organization requires two-factor authentication: enrol an authenticator app',
        enrolmentToken: 'ztke_abc.def',
        expiresAt: '2099-01-01T00:00:00Z',
      },
    }),
  });
  const home = makeHome();
  try {
    const result = await home.run(
      ['login', '--server', fake.url, '--username', 'alice', '--password-stdin'],
      {
        input: PASSWORD,
      },
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /requires two-factor authentication.*run ztka login in a terminal to enrol/);
    assert.ok(!result.stderr.includes('ztke_abc'));
    assert.deepEqual(
      fake.requests.map((r) => `${r.method} ${r.path}`),
      ['POST /v1/auth/login'],
    );
    await assert.rejects(stat(home.configFile), { code: 'ENOENT' });
  } finally {
    home.remove();
    await fake.close();
  }
});

test("totp enrol, confirm and remove, and an admin's users reset-totp, send what the API takes", async () => {
  const fake = await startFake({
    'POST /v1/auth/totp': () => ({ status: 201, json: { secret: 'JBSWY3DPEHPK3PXP', uri: URI } }),
    'POST /v1/auth/totp/confirm': () => ({ status: 204 }),
    'DELETE /v1/auth/totp': () => ({ status: 204 }),
    'DELETE /v1/users/bob%40example.com/totp': () => ({ status: 204 }),
  });
  const home = makeHome();
  await home.login(fake.url);
  try {
    const enrol = await home.run(['totp', 'enrol']);
    assert.equal(enrol.code, 0, enrol.stderr);
    assert.match(enrol.stdout, new RegExp(`URI: +${URI.replace(/[?]/g, '\\?')}\n`));
    assert.match(enrol.stdout, /Secret: +JBSWY3DPEHPK3PXP\n/);
    assert.match(enrol.stdout, /ztka totp confirm CODE\n$/);

    assert.equal((await home.run(['totp', 'confirm', CODE])).code, 0);
    assert.deepEqual(fake.requests.at(-1)?.json, { code: CODE });
    assert.equal((await home.run(['totp', 'confirm', '12345'])).code, 2);

    const remove = await home.run(['totp', 'remove', '--code', CODE]);
    assert.equal(remove.code, 0, remove.stderr);
    assert.deepEqual([fake.requests.at(-1)?.method, fake.requests.at(-1)?.json], ['DELETE', { code: CODE }]);
    const noCode = await home.run(['totp', 'remove']);
    assert.equal(noCode.code, 2);
    assert.match(noCode.stderr, /pass --code CODE/);

    const reset = await home.run(['users', 'reset-totp', 'bob@example.com']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stdout, 'Reset the two-factor authentication of bob@example.com\n');
    for (const r of fake.requests) assert.equal(r.headers.authorization?.startsWith('Bearer '), true);
  } finally {
    home.remove();
    await fake.close();
  }
});
