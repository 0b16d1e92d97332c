/**
 * Who is logged in, for every page: loaded once from GET /api/session, replaced on login,
 * register and logout. `null` person means nobody is logged in.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, setCsrfToken, type Person, type SessionInfo } from './api';

interface SessionState {
  /** undefined while the first GET /api/session is in flight. */
  person: Person | null | undefined;
  signIn(info: SessionInfo): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [person, setPerson] = useState<Person | null | undefined>(undefined);

  useEffect(() => {
    let live = true;
    // ?optional=true: nobody logged in is a 200 with person null, not a 401 in the browser's log.
    api<SessionInfo | { person: null; csrfToken: null }>('GET', '/api/session?optional=true')
      .then((info) => {
        setCsrfToken(info.csrfToken);
        if (live) setPerson(info.person);
      })
      .catch((error: unknown) => {
        console.warn('session check failed', error);
        if (live) setPerson(null);
      });
    return () => {
      live = false;
    };
  }, []);

  const signIn = useCallback((info: SessionInfo) => {
    setCsrfToken(info.csrfToken);
    setPerson(info.person);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('POST', '/api/logout', {});
    } finally {
      setCsrfToken(null);
      setPerson(null);
    }
  }, []);

  const value = useMemo(() => ({ person, signIn, signOut }), [person, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (state === null) throw new Error('useSession outside SessionProvider');
  return state;
}
