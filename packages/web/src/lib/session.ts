// The CSRF token of the console session: kept in memory and in sessionStorage, so a reload of the tab keeps
// working while the HttpOnly cookie lives, and a new tab or browser restart asks for a login again.

const KEY = 'ztka.csrfToken';
let token: string | undefined;
let loaded = false;

function storage(): Storage | undefined {
  try {
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    return undefined; // storage disabled by the browser
  }
}

export function csrfToken(): string | undefined {
  if (!loaded) {
    loaded = true;
    token = storage()?.getItem(KEY) ?? undefined;
  }
  return token;
}

export function setCsrfToken(value: string | undefined): void {
  token = value;
  loaded = true;
  const s = storage();
  try {
    if (value === undefined) s?.removeItem(KEY);
    else s?.setItem(KEY, value);
  } catch {
    // a full or disabled storage only costs the token across reloads
  }
}
