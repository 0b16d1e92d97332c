/**
 * The console's shell: the header with its navigation, and one route per page. Pages that
 * need a person send a visitor to /login?next=<this page> and come back after.
 */
import { useState, type ReactNode } from 'react';
import { Link, Redirect, Route, Switch, useLocation, useSearch } from 'wouter';
import { SessionProvider, useSession } from './session';
import { AdminPage } from './pages/admin-page';
import { ApiPage } from './pages/api-page';
import { BalancePage } from './pages/balance-page';
import { CredentialsPage } from './pages/credentials-page';
import { LoginPage } from './pages/login-page';
import { PlaygroundPage } from './pages/playground-page';
import { UsagePage } from './pages/usage-page';
import { AccountPage } from './pages/account-page';
import { usePageTitle } from './components/use-page-title';

export function App() {
  return (
    <SessionProvider>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/">
            <ApiPage />
          </Route>
          <Route path="/login">
            {/* Keyed: switching between the two forms starts the other one afresh, without the last one's error. */}
            <LoginPage key="login" mode="login" />
          </Route>
          <Route path="/register">
            <LoginPage key="register" mode="register" />
          </Route>
          <Route path="/playground">
            <RequireLogin>
              <PlaygroundPage />
            </RequireLogin>
          </Route>
          <Route path="/credentials">
            <RequireLogin>
              <CredentialsPage />
            </RequireLogin>
          </Route>
          <Route path="/usage">
            <RequireLogin>
              <UsagePage />
            </RequireLogin>
          </Route>
          <Route path="/balance">
            <RequireLogin>
              <BalancePage />
            </RequireLogin>
          </Route>
          <Route path="/account">
            <RequireLogin>
              <AccountPage />
            </RequireLogin>
          </Route>
          <Route path="/admin">
            <RequireLogin>
              <AdminPage />
            </RequireLogin>
          </Route>
          <Route>
            <NotFoundPage />
          </Route>
        </Switch>
      </main>
    </SessionProvider>
  );
}

function NotFoundPage() {
  usePageTitle('Not found');
  return (
    <section className="page not-found">
      <h1>Page not found</h1>
      <p>There is no console page at this address. It may have moved, or the link has a typo.</p>
      <p>
        <Link href="/" className="button">
          Go to the console home
        </Link>
      </p>
    </section>
  );
}

const NAV: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/', label: 'API' },
  { href: '/playground', label: 'Playground' },
  { href: '/credentials', label: 'Credentials' },
  { href: '/usage', label: 'Usage' },
  { href: '/balance', label: 'Balance' },
  { href: '/admin', label: 'Operator', admin: true },
];

function Header() {
  const { person, signOut } = useSession();
  const [location, navigate] = useLocation();
  // On a phone the links fold behind a Menu button (styles.css shows it below 640 px), so
  // none sits off-screen.
  // (Open at one location: a new page folds them again.)
  const [openAt, setOpenAt] = useState<string | null>(null);
  const menuOpen = openAt === location;
  return (
    <header className="site-header">
      <Link href="/" className="brand" aria-label="moongate home">
        <span className="brand-mark" aria-hidden="true" />
        moongate
      </Link>
      <button
        type="button"
        className="button small secondary menu-button"
        aria-expanded={menuOpen}
        aria-controls="console-nav"
        onClick={() => setOpenAt(menuOpen ? null : location)}
      >
        Menu
      </button>
      <nav aria-label="Console" id="console-nav" className={menuOpen ? 'open' : undefined}>
        <ul>
          {NAV.filter((item) => !item.admin || person?.role === 'admin').map((item) => (
            <li key={item.href}>
              <Link href={item.href} aria-current={location === item.href ? 'page' : undefined}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="who">
        {person === undefined ? null : person === null ? (
          <>
            <Link href={`/login?next=${encodeURIComponent(location)}`}>Log in</Link>
            <Link href={`/register?next=${encodeURIComponent(location)}`} className="button small">
              Register
            </Link>
          </>
        ) : (
          <>
            <Link href="/account" className="who-email" title="Account settings">
              {person.email}
            </Link>
            <button
              type="button"
              className="button small secondary"
              onClick={() => {
                void signOut().then(() => navigate('/'));
              }}
            >
              Log out
            </button>
          </>
        )}
      </div>
    </header>
  );
}

/** Renders its page for a logged-in person; anyone else goes to /login and comes back here. */
export function RequireLogin({ children }: { children: ReactNode }) {
  const { person } = useSession();
  const [location] = useLocation();
  const search = useSearch();
  if (person === undefined) return <p className="page loading">Loading…</p>;
  if (person === null) {
    const next = search === '' ? location : `${location}?${search}`;
    return <Redirect to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <>{children}</>;
}
