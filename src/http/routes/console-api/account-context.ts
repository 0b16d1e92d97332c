/** What the console API's routes share: the store and the account services built on it. */
import type { AccountService } from '../../../accounts/account-service.js';
import type { ApplicationStore } from '../../../accounts/application-store.js';
import type { CredentialStore } from '../../../accounts/credential-store.js';
import type { PlaygroundTokenStore } from '../../../accounts/playground-token-store.js';
import type { SessionStore } from '../../../accounts/session-store.js';
import type { PriceBook } from '../../../billing/price-store.js';
import type { ChangeBus } from '../../../limits/change-bus.js';
import type { RedeemThrottle } from '../../../limits/redeem-throttle.js';
import type { TopupCodeStore } from '../../../billing/topup-code-store.js';
import type { RequestLimits } from '../../../limits/request-limiter.js';
import type { Store } from '../../../store/open-store.js';
import type { PersonLimitDefaults } from '../../../config.js';
import type { ModelCatalogue } from '../../../catalogue/model-catalogue.js';
import type { HostPolicy } from './host-policy.js';

export interface AccountContext {
  store: Store;
  accounts: AccountService;
  sessions: SessionStore;
  applications: ApplicationStore;
  credentials: CredentialStore;
  playgroundTokens: PlaygroundTokenStore;
  topupCodes: TopupCodeStore;
  /** Failed code redemptions per person. */
  redeemThrottle: RedeemThrottle;
  /** The operator's currency (MOONGATE_CURRENCY): what the micro-units of prices and balances count. */
  currency: string;
  /** The admission price cache, told when the admin API changes a price so it applies at once. */
  prices: Pick<PriceBook, 'invalidate'>;
  /**
   * Where the console and admin APIs announce a change that caches must not outlive (a
   * credential revoked, a model edited); every replica hears it with REDIS_URL. Optional for
   * tests that build the app alone.
   */
  changes?: ChangeBus;
  /** The limits of a credential without its own (DEFAULT_REQUEST_LIMITS when left out). */
  defaultLimits?: RequestLimits;
  /** Per-person limit defaults (PERSON_*_LIMIT); a person's own, set by the operator, win. */
  personLimits: PersonLimitDefaults;
  /** The hosts and origins the console API answers to (PUBLIC_URL; docs/security.md). */
  hosts: HostPolicy;
  /** The model catalogue (docs/models.md); the built-in rows, read-only, when left out (tests). */
  models?: ModelCatalogue;
}
