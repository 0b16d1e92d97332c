/**
 * /login and /register: email + password, the API's own errors (a wrong password, a throttle
 * with its wait, an email already taken), and back to `next` afterwards: only a path on this
 * site (safeNext), never another origin. /register#setup=<token> is the one-time setup
 * link `npm start` prints on a fresh install: registering through it makes the operator
 * (docs/security.md). The token is in the fragment, so it never reaches a server log.
 */
import { useEffect, useId, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { postJson, type SessionInfo } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { usePageTitle } from '../components/use-page-title';
import { safeNext } from '../safe-next';
import { useSession } from '../session';
import './login-page.css';

const MIN_PASSWORD = 8;

export function LoginPage({ mode }: { mode: 'login' | 'register' }) {
  const registering = mode === 'register';
  const [setupToken] = useState(() => (registering ? new URLSearchParams(window.location.hash.slice(1)).get('setup') : null));
  const title = setupToken !== null ? "Create the operator's account" : registering ? 'Create your account' : 'Log in';
  usePageTitle(registering ? 'Register' : 'Log in');
  const { person, signIn } = useSession();
  const [, navigate] = useLocation();
  const search = useSearch();
  const rawNext = new URLSearchParams(search).get('next');
  const next = safeNext(rawNext);
  const nextQuery = rawNext === null ? '' : `?next=${encodeURIComponent(next)}`;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const hintId = useId();
  const [passwordProblem, setPasswordProblem] = useState<string | null>(null);

  // Someone already logged in (another tab, the back button) goes on to where they were headed.
  useEffect(() => {
    if (person) navigate(next, { replace: true });
  }, [person, next, navigate]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    // Said on the page, not only in the browser's bubble (which some readers never see).
    const problem = registering && password.length < MIN_PASSWORD ? `The password needs at least ${MIN_PASSWORD} characters.` : null;
    setPasswordProblem(problem);
    if (problem !== null) return;
    setBusy(true);
    try {
      const body = setupToken === null ? { email, password } : { email, password, setupToken };
      const info = await postJson<SessionInfo>(registering ? '/api/register' : '/api/login', body);
      signIn(info);
      navigate(next, { replace: true });
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  }

  return (
    <section className="page login-page">
      <div className="card login-card">
        <h1>{title}</h1>
        <p className="muted">
          {setupToken !== null
            ? 'This one-time setup link makes the account you create here the operator of this moongate.'
            : registering
            ? 'An account lets you acquire the Kimi API with its free quota, make credentials and watch your usage.'
            : 'Welcome back. Log in to use the console.'}
        </p>
        {rawNext !== null && next !== rawNext ? (
          <p className="alert error" role="alert">
            The link asked to send you to another site afterwards; you will land on this console instead.
          </p>
        ) : null}
        <ErrorAlert error={error} />
        <form noValidate={registering} onSubmit={(event) => void submit(event)}>
          <div className="field">
            <label htmlFor="login-email">Email</label>
            <input
              id="login-email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">Password</label>
            <input
              id="login-password"
              type="password"
              autoComplete={registering ? 'new-password' : 'current-password'}
              required
              minLength={registering ? MIN_PASSWORD : undefined}
              aria-invalid={passwordProblem !== null}
              aria-describedby={registering ? `${hintId}-problem ${hintId}` : undefined}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            {passwordProblem === null ? null : (
              <p className="field-error" id={`${hintId}-problem`} role="alert">
                {passwordProblem}
              </p>
            )}
            {registering ? (
              <p className="hint" id={hintId}>
                At least 8 characters, and not your email.
              </p>
            ) : null}
          </div>
          <button type="submit" className="button login-submit" disabled={busy}>
            {busy ? (registering ? 'Creating account…' : 'Logging in…') : registering ? 'Register' : 'Log in'}
          </button>
        </form>
        <p className="login-switch">
          {registering ? (
            <>
              Already have an account? <Link href={`/login${nextQuery}`}>Log in instead</Link>
            </>
          ) : (
            <>
              New here? <Link href={`/register${nextQuery}`}>Create an account</Link>
            </>
          )}
        </p>
      </div>
    </section>
  );
}
