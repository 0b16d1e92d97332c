import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * DESIGN.md's direction of dependencies, as lint: each folder of src/ names the folders it
 * may import from (besides itself); an import of any other folder of src/ fails. Only
 * server.ts and cli/ wire the folders together: nothing imports cli/ or server.ts.
 * Paths are matched as written (`../gateway/…`, `../../store/…`), which is how src/ imports.
 */
const SRC_FOLDERS = ['contract', 'sse', 'tokens', 'providers', 'store', 'limits', 'accounts', 'billing', 'channels', 'catalogue', 'gateway', 'observability', 'http', 'cli'];
const MAY_IMPORT = {
  contract: [],
  sse: ['contract'],
  tokens: ['contract'],
  providers: ['contract', 'sse', 'tokens'],
  store: ['contract'],
  // Beside the gateway, on top of the store; the gateway defines the interfaces billing implements.
  limits: ['contract', 'store', 'observability', 'config.js'],
  accounts: ['contract', 'store', 'limits', 'billing'],
  billing: ['contract', 'store', 'limits', 'gateway'],
  channels: ['contract', 'store', 'providers', 'config.js'],
  // The model catalogue in the store; the gateway sees it through contract's ModelLookup.
  catalogue: ['contract', 'store', 'limits'],
  gateway: ['contract', 'sse', 'tokens', 'providers', 'limits', 'channels'],
  observability: ['contract', 'gateway'],
  http: SRC_FOLDERS.filter((folder) => folder !== 'cli').concat('config.js'),
};

function layerRules() {
  const escape = (name) => name.replace('.', '\\.');
  return Object.entries(MAY_IMPORT).map(([folder, allowed]) => {
    const forbidden = [...SRC_FOLDERS, 'config.js', 'server.js'].filter((name) => name !== folder && !allowed.includes(name));
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${forbidden.map(escape).join('|')})(/|$)`,
                message: `src/${folder}/ may import only from ${allowed.length === 0 ? 'nothing else in src/' : allowed.join(', ')} (DESIGN.md, README's layout).`,
              },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'bench/dist/**', 'fuzz/dist/**', 'node_modules/**', 'data/**', 'web/dist/**', 'coverage/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  ...layerRules(),
  {
    // A promise nobody awaits loses its rejection (STYLE.md): typed, so it sees through calls.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/src/**/*.ts', 'fuzz/src/**/*.ts', 'web/src/**/*.{ts,tsx}'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // V8 keeps an object literal's getter or setter in an accessor pair allocated in the old
    // generation, which holds the accessor's closure, and all it reaches, through every
    // scavenge until a full collection: one such literal per chat request had each request
    // promoted whole (issue 20; docs/benchmark.md, "How long a request's objects live").
    // A class's accessors live on its prototype, made once, and are fine.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ObjectExpression > Property[kind=/^(get|set)$/]',
          message: 'No getter or setter in an object literal under src/: use a data property, a method or a class (eslint.config.js says why).',
        },
      ],
    },
  },
  {
    // The console runs in the browser: browser globals, and the rules of hooks.
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules },
  },
);
