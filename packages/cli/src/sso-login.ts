// `ztka login --sso`: single sign-on through the organization's identity provider. The controller is the
// relying party; the CLI only receives a ztka API key. With a browser, the CLI listens on a loopback port,
// sends the browser to the controller, and redeems the one-time code the controller sends back there with
// the PKCE verifier only this process knows (so a code caught by anyone else is useless). Without one, the
// provider's device flow: the person enters a short code on any device.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ssoConfirmationWords, type SsoProviderName } from '@ztka/protocol';
import type { LoginAnswer } from './api.js';
import type { Client } from './client.js';
import { CliError, UsageError } from './errors.js';
import { write } from './output.js';

/** How long the CLI waits for the person to finish at the provider. */
const LOGIN_WAIT_MS = 5 * 60_000;

/** The provider to use: the one named, or the only one there is. */
export async function chooseProvider(client: Client, named: string | undefined): Promise<SsoProviderName> {
  const list = await client.json<{ items?: SsoProviderName[] }>('GET', '/v1/auth/sso/providers');
  const items = Array.isArray(list?.items) ? list.items : [];
  if (named !== undefined) {
    const found = items.find((p) => p.name === named);
    if (!found)
      throw new UsageError(
        `no single sign-on provider named "${named}"` +
          (items.length > 0 ? `: use one of ${items.map((p) => p.name).join(', ')}` : ''),
      );
    return found;
  }
  if (items.length === 0)
    throw new CliError(`${client.server} has no single sign-on provider: log in with --username`);
  if (items.length > 1)
    throw new UsageError(`choose a provider with --provider: ${items.map((p) => p.name).join(', ')}`);
  return items[0] as SsoProviderName;
}

/** Opens `url` in the person's browser ($BROWSER, else the platform's opener); false if none could start. */
function openBrowser(url: string): boolean {
  const custom = process.env['BROWSER'];
  const [command, args] =
    custom !== undefined && custom !== ''
      ? [custom, [url]]
      : process.platform === 'darwin'
        ? ['open', [url]]
        : process.platform === 'win32'
          ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
          : ['xdg-open', [url]];
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif">` +
  `<h1>${title}</h1><p>${text}</p></body>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Waits on a loopback port for the browser to come back with a code (or an error). */
async function loopback(): Promise<{ redirect: string; result: Promise<string>; close: () => void }> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  let timer: NodeJS.Timeout | undefined;
  const result = new Promise<string>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new CliError('single sign-on timed out: nobody finished the login in the browser')),
      LOGIN_WAIT_MS,
    );
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      if (req.method !== 'GET' || url.pathname !== '/callback') {
        res.writeHead(404).end();
        return;
      }
      const code = url.searchParams.get('code');
      const error = url.searchParams.get('error');
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('cache-control', 'no-store');
      if (code) {
        res.end(PAGE('Signed in', 'You are signed in to ztka. You can close this tab.'));
        resolve(code);
      } else {
        // What comes back is anyone's words (the provider's, or another local process's): no control characters.
        const message = (error ?? 'no code came back')
          // eslint-disable-next-line no-control-regex
          .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
          .slice(0, 500);
        res.end(PAGE('Sign-in failed', escapeHtml(message)));
        reject(new CliError(`single sign-on failed: ${message}`));
      }
    });
  });
  const close = () => {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections();
  };
  return { redirect: `http://127.0.0.1:${port}/callback`, result, close };
}

/** A browser login: prints the URL (and opens it unless told not to), then redeems the code that comes back. */
export async function browserLogin(
  client: Client,
  provider: SsoProviderName,
  opts: { keyName: string; openBrowser: boolean },
): Promise<LoginAnswer> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const back = await loopback();
  try {
    const start = new URL(`${client.server}/v1/auth/sso/${encodeURIComponent(provider.name)}/start`);
    start.search = new URLSearchParams({ client: 'cli', redirect: back.redirect, challenge }).toString();
    write(
      `Log in with ${provider.displayName} in your browser:\n  ${start.href}\n` +
        `Confirm there that it shows ${ssoConfirmationWords(challenge)}.\n`,
    );
    if (opts.openBrowser && !openBrowser(start.href))
      write('(could not open a browser: open the link yourself)\n');
    const code = await back.result;
    return await client.json<LoginAnswer>('POST', '/v1/auth/sso/exchange', {
      code,
      codeVerifier: verifier,
      keyName: opts.keyName,
    });
  } finally {
    back.close();
  }
}

interface DeviceStart {
  pollToken: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  intervalSeconds: number;
  expiresInSeconds: number;
}

/** A device-flow login: the person enters a code on any device; the controller waits for the provider. */
export async function deviceLogin(
  client: Client,
  provider: SsoProviderName,
  opts: { keyName: string },
): Promise<LoginAnswer> {
  const start = await client.json<DeviceStart>(
    'POST',
    `/v1/auth/sso/${encodeURIComponent(provider.name)}/device`,
    { keyName: opts.keyName },
  );
  write(
    `To log in with ${provider.displayName}, visit\n  ${start.verificationUriComplete ?? start.verificationUri}\n` +
      `and enter the code ${start.userCode} (valid ${Math.round(start.expiresInSeconds / 60)} min).\n`,
  );
  const deadline = Date.now() + start.expiresInSeconds * 1000;
  while (Date.now() < deadline) {
    const answer = await client.json<LoginAnswer & { pending?: boolean }>(
      'POST',
      '/v1/auth/sso/device/poll',
      {
        pollToken: start.pollToken,
      },
    );
    if (answer?.pending !== true) return answer;
  }
  throw new CliError('single sign-on timed out: the code was not entered in time');
}
