/** What the usage and operator pages need from GET /api/services: the models and the currency. */
import type { ServicesAnswer } from '../console-types';

export type { ServicesAnswer };

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
