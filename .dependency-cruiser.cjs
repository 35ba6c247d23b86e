/**
 * The layers of the README's architecture, enforced (`npm run lint:layers`).
 * Each layer names what it may import; anything else, an import cycle, or an
 * import that does not resolve fails the check. Type-only imports count.
 * Node's own modules are allowed everywhere; an npm package only where a
 * layer names it (dump's zstd, report's Vega, cli's progress bar), so any
 * other is an error too.
 */
const layers = [
  ['errors', '^errors/', []],
  ['wire', '^src/wire/', ['^errors/']],
  // The addon itself, loaded from build/ at run time.
  ['native', '^native/', ['^errors/', 'netdump_native\\.node$']],
  ['drivers', '^drivers/(?!middleware/)', ['^native/', '^errors/']],
  // Middleware reads frames, as smoltcp's phy reads them through its wire module.
  ['middleware', '^drivers/middleware/', ['^drivers/', '^native/', '^src/wire/', '^errors/']],
  ['net', '^src/net/', ['^drivers/driver\\.ts$', '^src/wire/', '^errors/']],
  // zstd's C library as WebAssembly: the only npm package shipped code uses (README: Compressed dumps).
  ['dump', '^src/dump/', ['^src/wire/', '^errors/', '^node_modules/@bokuweb/zstd-wasm/']],
  ['client', '^src/client/', ['^src/net/', '^src/dump/', '^drivers/driver\\.ts$', '^drivers/vtnet\\.ts$', '^src/wire/', '^errors/']],
  ['server', '^src/server/', ['^native/', '^src/wire/', '^errors/']],
  // Traces to charts: Vega-Lite specifications, rendered to SVG by Vega.
  ['report', '^src/report/', ['^errors/', '^node_modules/vega/', '^node_modules/vega-lite/']],
  ['cli', '^src/cli/', ['^src/', '^drivers/', '^native/', '^errors/', '^node_modules/cli-progress/']],
];

module.exports = {
  forbidden: [
    ...layers.map(([name, from, allowed]) => ({
      name: `layer-${name}`,
      comment: `${name} (${from}) may import only its own folder and ${allowed.join(', ') || 'nothing else'}`,
      severity: 'error',
      from: { path: from },
      to: { dependencyTypesNot: ['core'], pathNot: [from, ...allowed] },
    })),
    {
      name: 'product-not-from-tests-or-scripts',
      comment: 'shipped code (errors, native, drivers, src) never imports test/ or scripts/',
      severity: 'error',
      from: { path: '^(errors|native|drivers|src)/' },
      to: { path: '^(test|scripts)/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true, pathNot: 'netdump_native\\.node$' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|build)/' },
    tsPreCompilationDeps: true,
    // Resolved paths stay as written, so a copy of the tree with node_modules linked in checks the same.
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages that export only "types" and "default" (vega-lite) resolve as Node resolves them.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
