export function BalancePage() {
  return (
    <section className="page">
      <h1>Balance</h1>
    </section>
  );
}
