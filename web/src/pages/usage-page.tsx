export function UsagePage() {
  return (
    <section className="page">
      <h1>Usage</h1>
    </section>
  );
}
