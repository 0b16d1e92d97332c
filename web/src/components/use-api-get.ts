/**
 * GETs a console API path and keeps the answer: `data` (undefined until the first answer),
 * `error` (an ApiError or a network failure), and `reload()`. A newer request's answer
 * always wins over an older one's, and an unmounted page ignores late answers.
 */
import { useCallback, useEffect, useState } from 'react';
import { getJson } from '../api';

export interface ApiGet<T> {
  data: T | undefined;
  error: unknown;
  reload(): void;
  /** Replaces the data with what a POST answered, without another round trip. */
  setData(data: T): void;
}

export function useApiGet<T>(path: string | null): ApiGet<T> {
  const [state, setState] = useState<{ path: string | null; data: T | undefined; error: unknown }>({
    path,
    data: undefined,
    error: null,
  });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (path === null) return;
    let live = true;
    getJson<T>(path).then(
      (data) => {
        if (live) setState({ path, data, error: null });
      },
      (error: unknown) => {
        if (live) setState((previous) => ({ path, data: previous.path === path ? previous.data : undefined, error }));
      },
    );
    return () => {
      live = false;
    };
  }, [path, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback((data: T) => setState({ path, data, error: null }), [path]);
  // Data of another path (the path just changed) is not this path's data.
  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : null, reload, setData };
}
