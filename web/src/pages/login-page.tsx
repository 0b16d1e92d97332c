export function LoginPage({ mode }: { mode: 'login' | 'register' }) {
  return (
    <section className="page">
      <h1>{mode === 'login' ? 'Log in' : 'Register'}</h1>
    </section>
  );
}
