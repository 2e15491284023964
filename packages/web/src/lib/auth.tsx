// The signed-in person: who they are, what they may do, and login/logout. Any 401 from the API signs the
// console out, which sends the person to the login page.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, onUnauthorized, request } from './api.js';
import { capabilitiesOf, type Capabilities } from './capabilities.js';
import { setCsrfToken } from './session.js';
import type { LoginResult, WhoAmI } from './types.js';

export type AuthStatus = 'loading' | 'signed-in' | 'signed-out';

export interface AuthValue {
  status: AuthStatus;
  me: WhoAmI | undefined;
  caps: Capabilities;
  /** Why the person was signed out, when it was not their doing (an expired or revoked session). */
  notice: string | undefined;
  /** Throws ApiError `totp_required` or `totp_enrolment_required` when the password is not enough. */
  login(username: string, password: string, totp?: string): Promise<void>;
  logout(): Promise<void>;
  /** Reads whoami again (after the person's roles may have changed). */
  refresh(): Promise<void>;
}

const AuthContext = createContext<AuthValue | undefined>(undefined);

const whoami = () => request<WhoAmI>('/v1/auth/whoami', { quiet401: true });

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [me, setMe] = useState<WhoAmI | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  const signedOut = useCallback((why?: string) => {
    setCsrfToken(undefined);
    setMe(undefined);
    setNotice(why);
    setStatus('signed-out');
  }, []);

  useEffect(() => {
    onUnauthorized(() => signedOut('Your session has ended. Sign in again.'));
    let live = true;
    whoami().then(
      (who) => {
        if (!live) return;
        setMe(who);
        setStatus('signed-in');
      },
      (err: unknown) => {
        if (live) signedOut(err instanceof ApiError && err.status === 401 ? undefined : String(err));
      },
    );
    return () => {
      live = false;
      onUnauthorized(undefined);
    };
  }, [signedOut]);

  const login = useCallback(async (username: string, password: string, totp?: string) => {
    const res = await request<LoginResult>('/v1/auth/login', {
      method: 'POST',
      body: { username, password, client: 'console', ...(totp === undefined ? {} : { totp }) },
      quiet401: true,
    });
    setCsrfToken(res.csrfToken);
    const who = await whoami();
    setNotice(undefined);
    setMe(who);
    setStatus('signed-in');
  }, []);

  const logout = useCallback(async () => {
    try {
      await request<void>('/v1/auth/logout', { method: 'POST', quiet401: true });
    } finally {
      signedOut();
    }
  }, [signedOut]);

  const refresh = useCallback(async () => {
    setMe(await request<WhoAmI>('/v1/auth/whoami'));
  }, []);

  const caps = useMemo(() => capabilitiesOf(me?.roles ?? []), [me]);
  const value = useMemo(
    () => ({ status, me, caps, notice, login, logout, refresh }),
    [status, me, caps, notice, login, logout, refresh],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
