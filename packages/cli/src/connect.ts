// The stored login turned into an API client. Kept free of the command-line framework, so the exec-credential
// plugin's fast path (exec-plugin.ts) can load it alone.
import { Client } from './client.js';
import { requireLogin, type Login } from './config.js';

export interface Session {
  login: Login;
  client: Client;
}

export async function connect(server: string | undefined): Promise<Session> {
  const login = await requireLogin(server);
  return { login, client: new Client({ server: login.server, ca: login.ca, apiKey: login.apiKey }) };
}
