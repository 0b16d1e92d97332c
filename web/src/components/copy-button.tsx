/**
 * A button that copies a text (a token, a snippet) to the clipboard and says so, for
 * sighted users in its label and for screen readers through a polite live region.
 */
import { useEffect, useState } from 'react';

type CopyState = 'idle' | 'copied' | 'failed';

export function CopyButton({
  text,
  label = 'Copy',
  className = 'button small secondary',
}: {
  text: string;
  /** The visible label; the accessible name adds what is copied when the label alone is vague. */
  label?: string;
  className?: string;
}) {
  const [state, setState] = useState<CopyState>('idle');

  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      // No clipboard (an http:// origin that is not localhost, or a denied permission):
      // say so, the text stays on screen to copy by hand.
      setState('failed');
    }
  }

  return (
    <>
      <button type="button" className={className} onClick={() => void copy()}>
        {state === 'copied' ? 'Copied' : label}
      </button>
      <span className="visually-hidden" role="status" aria-live="polite">
        {state === 'copied' ? 'Copied to the clipboard.' : state === 'failed' ? 'Copying failed; select the text and copy it.' : ''}
      </span>
    </>
  );
}
