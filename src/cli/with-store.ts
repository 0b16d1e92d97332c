import { loadConfig, type Config } from '../config.js';
import { seedPrices } from '../billing/price-store.js';
import { openStore, type Store } from '../store/open-store.js';

/** Each command opens the store the server would use (DATA_DIR, DATABASE_URL) and closes it. */
export async function withStore(work: (store: Store, config: Readonly<Config>) => Promise<void>): Promise<void> {
  const config = loadConfig();
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    // Price listings must work before the first server start, too.
    await seedPrices(store.db);
    await work(store, config);
  } finally {
    await store.close();
  }
}
