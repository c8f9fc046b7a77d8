// ESLint flat config: the recommended JS and type-aware TypeScript rules everywhere, and the Temporal samples' import rules
// for the code that runs in the workflow sandbox. `npm run lint` runs it; `npm test` runs it first.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node built-ins, bare and `node:`-prefixed: none exists inside the workflow sandbox. */
const NODE_BUILTINS = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '')))].flatMap((m) => [m, `node:${m}`]);

/**
 * Import rules for a module that webpack bundles into the workflow sandbox: no Node built-ins, and values only from
 * the modules in `allowed` (a regex alternation); anything else (activities, clients, the database) as `import type` only.
 */
function sandboxImports(allowed, what) {
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        paths: NODE_BUILTINS.map((name) => ({
          name,
          message: 'Node built-ins do not exist in the workflow sandbox; do this in an activity.',
        })),
        patterns: [
          {
            regex: `^(?!(?:${allowed})$)`,
            allowTypeImports: true,
            message: `The workflow sandbox may import values only from ${what}; import anything else with \`import type\` (activities through proxyActivities).`,
          },
        ],
      },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: 'ImportExpression', message: 'No dynamic import in code bundled into the workflow sandbox.' },
    ],
    // A value import used only for types is kept (and its module bundled and run) by a compiler that works file by file.
    '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    '@typescript-eslint/no-import-type-side-effects': 'error',
  };
}

export default defineConfig(
  {
    ignores: ['dist/', 'coverage/', 'node_modules/', 'data/', 'test-artifacts/', '**/workflow-bundle.js'],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  js.configs.recommended,

  // Plain JavaScript (bin/, bench/, jest.config.js): CommonJS scripts run by Node.
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },

  // TypeScript (src/, test/, bench/ — all in tsconfig.json): type-aware recommended rules.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Forgetting to await an activity, a workflow API, a database call or a stream is a real bug: errors everywhere.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_`-prefixed names are unused on purpose (an interface's parameter, a skipped tuple element).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Passing on what was caught or an AbortSignal's reason (typed unknown/any) is how errors are forwarded here.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],

      // Off: they flag deliberate code, not defects.
      // `row[i]!` on indexed access is deliberate, ready for noUncheckedIndexedAccess (135 sites).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Interfaces (MikroORM migrations, PayloadCodec, test fakes) require async methods that have nothing to await.
      '@typescript-eslint/require-await': 'off',
      // The log parsers and validators match control characters and byte ranges on purpose.
      'no-control-regex': 'off',
    },
  },
  // Tests read untyped rows (pg), JSON and YAML and check them with expect(); typing each row adds nothing, and a value
  // stringified wrongly fails its assertion.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // The workflow sandbox: workflow files may import values from @temporalio/workflow, the SDK's own duration helpers
  // (@temporalio/common/lib/time) and search-attribute keys (lib/search-attributes), both pure and bundled with it,
  // each other (./name, never back out through ..) and the pure domain module only.
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      ...sandboxImports(
        String.raw`@temporalio/workflow|@temporalio/common/lib/time|@temporalio/common/lib/search-attributes|\./[\w-]+(?:/[\w-]+)*|\.\./domain/file-state`,
        '@temporalio/workflow, @temporalio/common/lib/time, @temporalio/common/lib/search-attributes, ./ modules and ../domain/file-state',
      ),
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'setImmediate', '__dirname', '__filename', 'require'].map((name) => ({
          name,
          message: 'Not available in the workflow sandbox.',
        })),
      ],
    },
  },
  // Pure modules that workflows import: nothing at all at run time.
  {
    files: ['src/domain/file-state.ts'],
    rules: sandboxImports('(?!)', 'nowhere (this module is shared with workflows and must stay pure)'),
  },
  // Bundled into the sandbox as the failure converter (bundleWorkflowCode's failureConverterPath).
  {
    files: ['src/temporal/data-converter.ts'],
    rules: sandboxImports('@temporalio/common', '@temporalio/common (it is bundled as the failure converter)'),
  },
);
