/**
 * The one hook for a GET under /api/ whose answer a page shows. It loads when the path, the
 * caller's `refresh` count or `reload()` changes; the previous answer stays on screen while
 * the next one loads, so a refresh or a new filter does not blank the page. The latest
 * request's answer always wins over an older one's, and an unmounted page ignores late answers.
 */
import { useCallback, useEffect, useState } from 'react';
import { getJson } from '../api';

export interface ApiData<T> {
  /** The latest answer, possibly for an older path while `loading`. */
  data: T | undefined;
  /** The error of the latest attempt (an ApiError or a network failure), if it failed. */
  error: unknown;
  loading: boolean;
  /** Loads the path again. */
  reload(): void;
  /** Replaces the data with what a POST answered, without another round trip. */
  setData(data: T): void;
}

interface Loaded<T> {
  key: string;
  data: T | undefined;
  error: unknown;
}

/** `path` null loads nothing (a page waiting for something else first). */
export function useApiData<T>(path: string | null, refresh = 0): ApiData<T> {
  const [generation, setGeneration] = useState(0);
  const key = `${refresh}:${generation}:${path ?? ''}`;
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

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback((data: T) => setState({ key, data, error: undefined }), [key]);
  return {
    data: state.data,
    error: state.key === key ? state.error : undefined,
    loading: path !== null && state.key !== key,
    reload,
    setData,
  };
}
