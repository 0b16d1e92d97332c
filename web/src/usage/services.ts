/** What the usage and operator pages need from GET /api/services: the models and the currency. */
export interface ServiceModel {
  id: string;
  thinking: boolean;
  contextTokens: number;
  price: { cachedInput: number; input: number; output: number } | null;
}

export interface ServicesAnswer {
  services: Array<{ slug: string; name: string; status: string; currency: string; models: ServiceModel[] }>;
}

export function modelIdsOf(answer: ServicesAnswer | undefined): string[] {
  const ids: string[] = [];
  for (const service of answer?.services ?? []) {
    for (const model of service.models) if (!ids.includes(model.id)) ids.push(model.id);
  }
  return ids;
}

export function currencyOf(answer: ServicesAnswer | undefined): string {
  return answer?.services[0]?.currency ?? 'USD';
}
