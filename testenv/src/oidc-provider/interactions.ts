// The provider's own login page, in place of oidc-provider's development interactions. A correct password
// finishes the interaction with the login and a grant of everything requested, so there is never a consent
// screen; the device flow reaches the same page after its user code is confirmed.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { readUsers } from './config.js';

export const PROVIDER_NAME = 'ztka test identity provider';
export const LOGIN_FAILED = 'Invalid username or password';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(interaction: Interaction, error?: string, login = ''): string {
  const uid = escapeHtml(interaction.uid);
  const client = escapeHtml(String(interaction.params['client_id'] ?? ''));
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - ${PROVIDER_NAME}</title></head>
<body>
<h1>${PROVIDER_NAME}</h1>
<p>Sign in to continue to <strong>${client}</strong>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}" autocomplete="off">
<label>Username <input name="login" autocomplete="username" value="${escapeHtml(login)}" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${uid}/abort">Cancel</a></p>
</body>
</html>
`;
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The names of the claims a request's `claims` parameter asks for, in the ID token or at userinfo. */
function requestedClaims(interaction: Interaction): string[] {
  const raw = interaction.params['claims'];
  if (typeof raw !== 'string') return [];
  try {
    const parsed = JSON.parse(raw) as Record<string, Record<string, unknown> | null>;
    return [...new Set(Object.values(parsed).flatMap((members) => Object.keys(members ?? {})))];
  } catch {
    return [];
  }
}

/** A grant of everything the interaction asks for, saved, as the consent part of its result. */
async function grantAll(
  provider: Provider,
  interaction: Interaction,
  accountId: string,
): Promise<InteractionResults['consent']> {
  const clientId = String(interaction.params['client_id']);
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant =
    existing && existing.accountId === accountId ? existing : new provider.Grant({ accountId, clientId });
  const scope = interaction.params['scope'];
  if (typeof scope === 'string') grant.addOIDCScope(scope);
  const claims = requestedClaims(interaction);
  if (claims.length > 0) grant.addOIDCClaims(claims);
  const details = interaction.prompt.details;
  if (Array.isArray(details['missingOIDCScope'])) grant.addOIDCScope(details['missingOIDCScope'].join(' '));
  if (Array.isArray(details['missingOIDCClaims']))
    grant.addOIDCClaims(details['missingOIDCClaims'] as string[]);
  const resources = details['missingResourceScopes'] as Record<string, string[]> | undefined;
  for (const [indicator, scopes] of Object.entries(resources ?? {}))
    grant.addResourceScope(indicator, scopes.join(' '));
  return { grantId: await grant.save() };
}

/**
 * Serves `/interaction/<uid>` (GET: the form, or an automatic consent; POST: the login) and
 * `/interaction/<uid>/abort`. Returns false for any other path.
 */
export async function handleInteraction(
  provider: Provider,
  stateDir: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'https://provider.invalid');
  const match = /^\/interaction\/([^/]+)(\/abort)?$/.exec(url.pathname);
  if (!match) return false;
  const interaction = await provider.interactionDetails(req, res);
  if (match[2]) {
    const result = { error: 'access_denied', error_description: 'the person cancelled the login' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return true;
  }
  if (req.method === 'GET') {
    const accountId = interaction.session?.accountId;
    if (interaction.prompt.name === 'consent' && accountId) {
      const consent = await grantAll(provider, interaction, accountId);
      await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    } else {
      send(res, 200, loginPage(interaction));
    }
    return true;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, POST' }).end();
    return true;
  }
  const form = await readForm(req);
  const login = form.get('login') ?? '';
  const password = form.get('password') ?? '';
  const user = (await readUsers(stateDir)).find((u) => u.username === login);
  if (!user || user.disabled || !sameSecret(user.password, password)) {
    send(res, 200, loginPage(interaction, LOGIN_FAILED, login));
    return true;
  }
  const result: InteractionResults = {
    login: { accountId: user.sub },
    consent: await grantAll(provider, interaction, user.sub),
  };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  return true;
}
