/**
 * A newly issued API token, shown once: the server keeps only its hash, so this is the only
 * time anyone sees it. The person copies it and dismisses the box; it is then gone from the DOM.
 */
import { CopyButton } from './copy-button';

export function TokenReveal({ token, onDone }: { token: string; onDone?: () => void }) {
  return (
    <div className="token-reveal" role="region" aria-label="New API token">
      <p className="token-reveal-warning">
        <strong>Copy this token now.</strong> It is shown only once: moongate stores only its hash and cannot show
        it again.
      </p>
      <div className="row">
        <code className="token-box" data-testid="new-token">
          {token}
        </code>
        <CopyButton text={token} label="Copy token" />
        {onDone === undefined ? null : (
          <button type="button" className="button small secondary" onClick={onDone}>
            I have copied it
          </button>
        )}
      </div>
    </div>
  );
}
