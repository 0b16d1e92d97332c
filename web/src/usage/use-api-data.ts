/**
 * A GET under /api/ whose answer a page shows: loaded when the path (or the refresh count)
 * changes; the previous answer stays on screen while the next one loads, so a refresh or a
 * new filter does not blank the page.
 */
import { useEffect, useState } from 'react';
import { getJson } from '../api';

export interface ApiData<T> {
  /** The latest answer, possibly for an older path while `loading`. */
  data: T | undefined;
  /** The error of the latest attempt, if it failed. */
  error: unknown;
  loading: boolean;
}

interface Loaded<T> {
  key: string;
  data: T | undefined;
  error: unknown;
}

/** `path` null loads nothing (a page waiting for something else first). */
export function useApiData<T>(path: string | null, refresh = 0): ApiData<T> {
  const key = `${refresh}:${path ?? ''}`;
  const [state, setState] = useState<Loaded<T>>({ key: '', data: undefined, error: undefined });

  useEffect(() => {
    if (path === null) return;
    let live = true;
    getJson<T>(path).then(
      (data) => {
        if (live) setState({ key, data, error: undefined });
      },
      (error: unknown) => {
        if (live) setState((previous) => ({ key, data: previous.data, error }));
      },
    );
    return () => {
      live = false;
    };
  }, [path, key]);

  return { data: state.data, error: state.key === key ? state.error : undefined, loading: path !== null && state.key !== key };
}
