// The console's shell. Pages (clusters, shell, audit logs, users, settings) mount here as they land.
export function App() {
  return (
    <main>
      <h1>ztka</h1>
      <p>Zero trust kubectl access. Sign-in and cluster pages arrive with the controller.</p>
    </main>
  );
}
