/**
 * The operator area (`/admin`), for people with the admin role: people, credentials, models, prices,
 * top-up codes and everyone's usage, one tab each (the tab is in the URL). Anyone else sees
 * a plain "not available" page; the API answers them 404 no_api anyway.
 */
import { Link, useLocation, useSearch } from 'wouter';
import { CodesTab } from '../admin/codes-tab';
import { CredentialsTab } from '../admin/credentials-tab';
import { AdminTabs, type TabSpec } from '../admin/admin-tabs';
import { ModelsTab } from '../admin/models-tab';
import { PeopleTab } from '../admin/people-tab';
import { PricesTab } from '../admin/prices-tab';
import { UsageTab } from '../admin/usage-tab';
import { usePageTitle } from '../components/use-page-title';
import { useSession } from '../session';
import { currencyOf, modelIdsOf, type ServicesAnswer } from '../usage/services';
import { useApiData } from '../components/use-api-data';
import './admin-page.css';
import './usage-page.css';

type Tab = 'people' | 'credentials' | 'models' | 'prices' | 'codes' | 'usage';
const TABS: ReadonlyArray<TabSpec<Tab>> = [
  { id: 'people', label: 'People' },
  { id: 'credentials', label: 'Credentials' },
  { id: 'models', label: 'Models' },
  { id: 'prices', label: 'Prices' },
  { id: 'codes', label: 'Top-up codes' },
  { id: 'usage', label: 'Usage' },
];

export function AdminPage() {
  const { person } = useSession();
  usePageTitle(person?.role === 'admin' ? 'Operator' : 'Not available');
  if (person?.role !== 'admin') {
    return (
      <section className="page admin-unavailable">
        <h1>Not available</h1>
        <p>The operator area is only for the operator of this moongate.</p>
        <p>
          <Link href="/usage">Your usage</Link> · <Link href="/">The API page</Link>
        </p>
      </section>
    );
  }
  return <OperatorArea />;
}

function OperatorArea() {
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const asked = search.get('tab');
  const tab: Tab = TABS.some((t) => t.id === asked) ? (asked as Tab) : 'people';
  const personFilter = search.get('person') ?? '';
  const services = useApiData<ServicesAnswer>('/api/services');
  const models = modelIdsOf(services.data);
  const currency = currencyOf(services.data);

  return (
    <section className="page admin-page">
      <h1>Operator</h1>
      <AdminTabs tabs={TABS} selected={tab} onSelect={(id) => navigate(`/admin?tab=${id}`, { replace: true })}>
        {tab === 'people' ? <PeopleTab currency={currency} /> : null}
        {tab === 'credentials' ? <CredentialsTab personId={personFilter} /> : null}
        {tab === 'models' ? <ModelsTab currency={currency} /> : null}
        {tab === 'prices' ? <PricesTab models={models} currency={currency} /> : null}
        {tab === 'codes' ? <CodesTab currency={currency} /> : null}
        {tab === 'usage' ? <UsageTab knownModels={models} currency={currency} /> : null}
      </AdminTabs>
    </section>
  );
}
