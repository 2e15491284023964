import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mappedGroups, personOf } from './claims.js';
import { OidcError } from './oidc.js';
import { PROVIDER_DEFAULTS, type ProviderSettings } from './providers.js';

const rules = (over: Partial<ProviderSettings> = {}): ProviderSettings => ({
  ...PROVIDER_DEFAULTS,
  displayName: 'Test',
  issuer: 'https://idp.example',
  clientId: 'ztka',
  ...over,
});

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OidcError, String(err));
    return err.reason;
  }
  assert.fail('expected a refusal');
};

test('the username claim names the person, lowercased; a missing or invalid one is refused', () => {
  const p = personOf({ sub: 's1', email: 'Demos@Rafay.co', groups: ['b', 'a', 'a'] }, rules());
  assert.deepEqual(p, {
    subject: 's1',
    username: 'demos@rafay.co',
    email: 'demos@rafay.co',
    providerGroups: ['a', 'b'],
  });
  assert.equal(
    reason(() => personOf({ sub: 's1' }, rules())),
    'no_username',
  );
  assert.equal(
    reason(() => personOf({ sub: 's1', email: 'has space@x.io' }, rules())),
    'invalid_username',
  );
  const byName = personOf(
    { sub: 's', preferred_username: 'Jo', email: 'j@x.io' },
    rules({ usernameClaim: 'preferred_username' }),
  );
  assert.equal(byName.username, 'jo');
});

test('allowed domains: the email must be at one of them, and verified by the provider', () => {
  const only = rules({ allowedDomains: ['rafay.co'] });
  const v = { email_verified: true };
  assert.equal(personOf({ sub: 's', email: 'a@rafay.co', ...v }, only).username, 'a@rafay.co');
  assert.equal(
    reason(() => personOf({ sub: 's', email: 'a@evil.co', ...v }, only)),
    'email_not_allowed',
  );
  assert.equal(
    reason(() => personOf({ sub: 's', email: 'a@evil.rafay.co.evil', ...v }, only)),
    'email_not_allowed',
  );
  assert.equal(
    reason(() => personOf({ sub: 's', email: 'a@rafay.co' }, only)),
    'email_not_verified',
  );
  assert.equal(
    reason(() => personOf({ sub: 's', email: 'a@rafay.co', email_verified: false }, only)),
    'email_not_verified',
  );
  assert.equal(
    reason(() =>
      personOf(
        { sub: 's', preferred_username: 'a' },
        rules({ allowedDomains: ['rafay.co'], usernameClaim: 'preferred_username' }),
      ),
    ),
    'email_not_allowed',
  );
});

test('groups: a single string, nested claims and junk entries; too many is refused, not cut short', () => {
  assert.deepEqual(personOf({ sub: 's', email: 'a@b.co', groups: 'ops' }, rules()).providerGroups, ['ops']);
  const nested = rules({ groupsClaim: 'realm_access.roles' });
  assert.deepEqual(
    personOf({ sub: 's', email: 'a@b.co', realm_access: { roles: ['x', 1, '', 'y'] } }, nested)
      .providerGroups,
    ['x', 'y'],
  );
  const many = Array.from({ length: 1001 }, (_, i) => `g${i}`);
  assert.equal(
    reason(() => personOf({ sub: 's', email: 'a@b.co', groups: many }, rules())),
    'too_many_groups',
  );
});

test('mapping: the explicit table, then same names when on; names that cannot be groups are skipped', () => {
  const r = rules({ groupMapping: { 'Kube Admins': 'admins', 'cn=ops,dc=x': 'ops' }, groupsByName: true });
  assert.deepEqual(mappedGroups(['Kube Admins', 'devs', 'Not A Label', 'cn=ops,dc=x'], r), [
    'admins',
    'devs',
    'ops',
  ]);
  assert.deepEqual(mappedGroups(['Kube Admins', 'devs'], { ...r, groupsByName: false }), ['admins']);
  assert.deepEqual(mappedGroups(['__proto__', 'constructor'], { ...r, groupsByName: false }), []);
});
