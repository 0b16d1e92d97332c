export function CredentialsPage() {
  return (
    <section className="page">
      <h1>Credentials</h1>
    </section>
  );
}
