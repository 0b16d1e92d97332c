/**
 * One operator action at a time per section (disable, credit, save a price): its busy flag,
 * the API's error, and a short confirmation for the live region once it is done.
 */
import { useCallback, useState } from 'react';

export interface Action {
  busy: boolean;
  error: unknown;
  done: string;
  /** Runs `work`; on success shows `message` and calls `after` (usually a reload). */
  run(work: () => Promise<unknown>, message: string, after?: () => void): Promise<boolean>;
  clear(): void;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const run = useCallback(async (work: () => Promise<unknown>, message: string, after?: () => void) => {
    setBusy(true);
    setError(null);
    setDone('');
    try {
      await work();
      setDone(message);
      after?.();
      return true;
    } catch (caught) {
      setError(caught);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(null);
    setDone('');
  }, []);
  return { busy, error, done, run, clear };
}
