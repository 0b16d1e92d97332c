/**
 * /account: who is logged in, the person's console sessions (GET /api/sessions, each one
 * can be logged out with DELETE /api/sessions/:id), and changing the password (POST
 * /api/password), which also logs out every other session of the person
 * (docs/console-api.md): the way to log out everywhere else.
 */
import { useId, useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { api } from '../api';
import { ErrorAlert } from '../components/error-alert';
import { useApiData } from '../components/use-api-data';
import { usePageTitle } from '../components/use-page-title';
import type { ConsoleSession } from '../console-types';
import { formatTime } from '../format';
import { useSession } from '../session';
import './account-page.css';

export function AccountPage() {
  usePageTitle('Account');
  const { person, signOut } = useSession();
  const [, navigate] = useLocation();
  if (!person) return null;
  return (
    <section className="page account-page">
      <h1>Account</h1>
      <div className="grid two">
        <section className="card" aria-labelledby="profile-heading">
          <h2 id="profile-heading">You</h2>
          <dl className="account-facts">
            <dt>Email</dt>
            <dd>{person.email}</dd>
            <dt>Role</dt>
            <dd>{person.role === 'admin' ? <span className="badge">operator</span> : 'user'}</dd>
          </dl>
          <button
            type="button"
            className="button secondary"
            onClick={() => {
              void signOut().then(() => navigate('/'));
            }}
          >
            Log out of this browser
          </button>
        </section>
        <ChangePassword />
      </div>
      <Sessions />
    </section>
  );
}

function Sessions() {
  const sessions = useApiData<{ sessions: ConsoleSession[] }>('/api/sessions');
  const [error, setError] = useState<unknown>(null);
  const { signOut } = useSession();
  const [, navigate] = useLocation();

  async function end(session: ConsoleSession) {
    setError(null);
    try {
      await api('DELETE', `/api/sessions/${encodeURIComponent(session.id)}`);
      if (session.current) {
        await signOut();
        navigate('/');
        return;
      }
      sessions.reload();
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <section className="card account-sessions" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you are logged in</h2>
      <p className="muted">Each browser you logged in from, the most recently used first. Log out one you do not recognise.</p>
      <ErrorAlert error={error ?? sessions.error} title="The sessions could not be changed." />
      {sessions.data === undefined ? null : (
        <div className="table-wrap">
        <table className="sessions-table">
          <thead>
            <tr>
              <th scope="col">Browser</th>
              <th scope="col">Logged in</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.data.sessions.map((session) => (
              <tr key={session.id} data-session={session.id}>
                <td>
                  {session.userAgent ?? 'unknown browser'}
                  {session.current ? <span className="badge">this browser</span> : null}
                </td>
                <td>{formatTime(session.createdAt)}</td>
                <td>{formatTime(session.lastSeenAt)}</td>
                <td>
                  <button type="button" className="button secondary" onClick={() => void end(session)}>
                    Log out
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const hintId = useId();
  const mismatch = repeat !== '' && repeat !== next;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (next !== repeat) return;
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await api('POST', '/api/password', { current, next });
      setCurrent('');
      setNext('');
      setRepeat('');
      setDone(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={(event) => void submit(event)} aria-labelledby="password-heading">
      <h2 id="password-heading">Change password and log out everywhere else</h2>
      <p className="muted" id={hintId}>
        Changing your password ends every other session: other browsers and devices are logged out, and their
        playground tokens stop working. This browser stays logged in.
      </p>
      <div role="status" aria-live="polite">
        {done ? <p className="alert ok">Password changed. Every other session is logged out.</p> : null}
      </div>
      <ErrorAlert error={error} title="The password was not changed." />
      <div className="field">
        <label htmlFor="password-current">Current password</label>
        <input
          id="password-current"
          type="password"
          autoComplete="current-password"
          required
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="password-next">New password</label>
        <input
          id="password-next"
          type="password"
          autoComplete="new-password"
          required
          minLength={8}
          value={next}
          onChange={(event) => setNext(event.target.value)}
        />
        <p className="hint">At least 8 characters, and not your email.</p>
      </div>
      <div className="field">
        <label htmlFor="password-repeat">New password again</label>
        <input
          id="password-repeat"
          type="password"
          autoComplete="new-password"
          required
          aria-invalid={mismatch}
          aria-describedby={mismatch ? 'password-mismatch' : undefined}
          value={repeat}
          onChange={(event) => setRepeat(event.target.value)}
        />
        {mismatch ? (
          <p className="hint field-error" id="password-mismatch">
            The two new passwords differ.
          </p>
        ) : null}
      </div>
      <button type="submit" disabled={busy || mismatch} aria-describedby={hintId}>
        {busy ? 'Changing…' : 'Change password'}
      </button>
    </form>
  );
}
