export function AdminPage() {
  return (
    <section className="page">
      <h1>Operator</h1>
    </section>
  );
}
