export { MOONSHOT_BASE_URL, MoonshotChunkReader, MoonshotProvider, type MoonshotProviderOptions } from './moonshot-provider.js';
