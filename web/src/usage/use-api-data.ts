/**
 * Moved to components/use-api-data.ts (one hook for every page). Kept for the operator tabs
 * (web/src/admin/), which import it from here until their refactor moves them over.
 */
export { useApiData, type ApiData } from '../components/use-api-data';
