export function ApiPage() {
  return (
    <section className="page">
      <h1>Kimi Chat Completions API</h1>
    </section>
  );
}
