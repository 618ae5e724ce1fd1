import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SERVER_SETTINGS,
  expandPath,
  initializationOptions,
  needsRestart,
  parseServerCommand,
  readSettings,
  splitCommandLine,
} from '../../src/settings';

const ctx = { workspaceFolder: '/ws', homeDir: '/home/u', env: { DB: '/data/db' } };

function getter(values: Record<string, unknown>) {
  return (key: string) => values[key];
}

/** Every key of package.json's contributes.configuration, read as VS Code would (defaults). */
function packageDefaults(): Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../../../package.json') as {
    contributes: { configuration: { properties: Record<string, { default: unknown }> } };
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(pkg.contributes.configuration.properties)) {
    out[k.replace(/^gorillaLsp\./, '')] = v.default;
  }
  return out;
}

describe('readSettings', () => {
  it('gives the documented defaults when nothing is set', () => {
    const s = readSettings(getter({}), ctx);
    assert.deepEqual(s.server, DEFAULT_SERVER_SETTINGS);
    assert.equal(s.serverCommand, undefined);
    assert.equal(s.trace, 'off');
    assert.deepEqual(s.warnings, []);
  });

  it('package.json defaults equal the built-in defaults', () => {
    const s = readSettings(getter(packageDefaults()), ctx);
    assert.deepEqual(s.server, DEFAULT_SERVER_SETTINGS);
    assert.equal(s.serverCommand, undefined);
    assert.deepEqual(s.warnings, []);
  });

  it('package.json contributes every server setting with a type, default and description', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('../../../package.json') as {
      contributes: { configuration: { properties: Record<string, Record<string, unknown>> } };
    };
    const props = pkg.contributes.configuration.properties;
    const expected = [
      'serverCommand',
      'apiDatabase',
      'model.path',
      'model.device',
      'model.computeType',
      'model.template',
      'retrieval.topK',
      'retrieval.hybrid',
      'completion.maxCandidates',
      'completion.hallucinated',
      'diagnostics.enabled',
      'diagnostics.severity',
      'diagnostics.unverified',
      'verification.online',
      'trace.server',
    ];
    assert.deepEqual(Object.keys(props).sort(), expected.map((k) => `gorillaLsp.${k}`).sort());
    for (const [k, p] of Object.entries(props)) {
      assert.ok(p.type, `${k} has a type`);
      assert.ok('default' in p, `${k} has a default`);
      assert.ok(p.description || p.markdownDescription, `${k} has a description`);
    }
    assert.deepEqual(props['gorillaLsp.model.computeType'].enum, [
      'auto',
      'int8',
      'int8_float16',
      'int8_float32',
      'int8_bfloat16',
      'int16',
      'float16',
      'bfloat16',
      'float32',
    ]);
    assert.equal(props['gorillaLsp.retrieval.topK'].minimum, 1);
    assert.equal(props['gorillaLsp.retrieval.topK'].maximum, 50);
    assert.equal(props['gorillaLsp.completion.maxCandidates'].maximum, 20);
    assert.deepEqual(props['gorillaLsp.diagnostics.unverified'].enum, ['information', 'hint', 'off']);
    assert.equal(props['gorillaLsp.verification.online'].default, true);
  });

  it('maps valid values to the nested server settings', () => {
    const s = readSettings(
      getter({
        apiDatabase: ['/abs/api', 'rel/db.jsonl', '~/db', '${env:DB}'],
        'model.path': '/models/gorilla-7b-ct2',
        'model.device': 'cuda',
        'model.computeType': 'int8_float16',
        'model.template': 'gorilla-v1',
        'retrieval.topK': 10,
        'retrieval.hybrid': false,
        'completion.maxCandidates': 3,
        'completion.hallucinated': 'hide',
        'diagnostics.enabled': false,
        'diagnostics.severity': 'error',
        'diagnostics.unverified': 'hint',
        'verification.online': false,
        'trace.server': 'verbose',
      }),
      ctx,
    );
    assert.deepEqual(initializationOptions(s), {
      gorillaLsp: {
        apiDatabase: ['/abs/api', '/ws/rel/db.jsonl', '/home/u/db', '/data/db'],
        model: { path: '/models/gorilla-7b-ct2', device: 'cuda', computeType: 'int8_float16', template: 'gorilla-v1' },
        retrieval: { topK: 10, hybrid: false },
        completion: { maxCandidates: 3, hallucinated: 'hide' },
        diagnostics: { enabled: false, severity: 'error', unverified: 'hint' },
        verification: { online: false },
      },
    });
    assert.equal(s.trace, 'verbose');
    assert.deepEqual(s.warnings, []);
  });

  it('does not send extension-only settings to the server', () => {
    const s = readSettings(getter({ serverCommand: ['/x/gorilla-lsp', 'serve'], 'trace.server': 'messages' }), ctx);
    const opts = initializationOptions(s).gorillaLsp as unknown as Record<string, unknown>;
    assert.equal('serverCommand' in opts, false);
    assert.equal('trace' in opts, false);
  });

  it('replaces invalid values by defaults (with warnings) and clamps numbers', () => {
    const s = readSettings(
      getter({
        apiDatabase: 'single/path',
        'model.path': 42,
        'model.device': 'tpu',
        'model.computeType': 'int4',
        'model.template': '  ',
        'retrieval.topK': 500,
        'completion.maxCandidates': 0,
        'completion.hallucinated': 'show',
        'diagnostics.enabled': 'yes',
        'diagnostics.severity': 'fatal',
        'diagnostics.unverified': 'warning',
        'verification.online': 'no',
      }),
      ctx,
    );
    assert.deepEqual(s.server, {
      apiDatabase: ['/ws/single/path'],
      model: { path: '', device: 'auto', computeType: 'auto', template: 'gorilla-v0' },
      retrieval: { topK: 50, hybrid: true },
      completion: { maxCandidates: 1, hallucinated: 'warn' },
      diagnostics: { enabled: true, severity: 'warning', unverified: 'information' },
      verification: { online: true },
    });
    assert.equal(s.warnings.length, 10);
    assert.ok(s.warnings.some((w) => w.includes('diagnostics.unverified') && w.includes('information, hint, off')));
    assert.ok(s.warnings.some((w) => w.includes('retrieval.topK') && w.includes('50')));
  });

  it('rounds non-integers and accepts numeric strings', () => {
    const s = readSettings(getter({ 'retrieval.topK': 7.6, 'completion.maxCandidates': '4' }), ctx);
    assert.equal(s.server.retrieval.topK, 8);
    assert.equal(s.server.completion.maxCandidates, 4);
  });

  it('drops non-string database entries', () => {
    const s = readSettings(getter({ apiDatabase: ['/a', 3, '', null] }), ctx);
    assert.deepEqual(s.server.apiDatabase, ['/a']);
    assert.equal(s.warnings.length, 3);
  });
});

describe('serverCommand', () => {
  it('accepts arrays and command-line strings', () => {
    assert.deepEqual(parseServerCommand(['/v/bin/gorilla-lsp', 'serve', '--log', 'x y']), [
      '/v/bin/gorilla-lsp',
      'serve',
      '--log',
      'x y',
    ]);
    assert.deepEqual(parseServerCommand('/v/bin/python -m lsp_server serve'), [
      '/v/bin/python',
      '-m',
      'lsp_server',
      'serve',
    ]);
    assert.deepEqual(parseServerCommand('"/my dir/gorilla-lsp" serve'), ['/my dir/gorilla-lsp', 'serve']);
  });

  it('treats empty values as not set', () => {
    assert.equal(parseServerCommand([]), undefined);
    assert.equal(parseServerCommand(''), undefined);
    assert.equal(parseServerCommand('   '), undefined);
    assert.equal(parseServerCommand(undefined), undefined);
  });

  it('appends serve to a lone gorilla-lsp', () => {
    assert.deepEqual(parseServerCommand('gorilla-lsp'), ['gorilla-lsp', 'serve']);
    assert.deepEqual(parseServerCommand(['/v/bin/gorilla-lsp']), ['/v/bin/gorilla-lsp', 'serve']);
    assert.deepEqual(parseServerCommand(['/v/bin/python']), ['/v/bin/python']);
  });

  it('expands ~ and workspace-relative executables, keeps bare names for PATH lookup', () => {
    assert.deepEqual(parseServerCommand(['~/venv/bin/gorilla-lsp', 'serve'], ctx), [
      '/home/u/venv/bin/gorilla-lsp',
      'serve',
    ]);
    assert.deepEqual(parseServerCommand(['.venv/bin/gorilla-lsp', 'serve'], ctx), ['/ws/.venv/bin/gorilla-lsp', 'serve']);
    assert.deepEqual(parseServerCommand(['${workspaceFolder}/.venv/bin/python', '-m', 'lsp_server', 'serve'], ctx), [
      '/ws/.venv/bin/python',
      '-m',
      'lsp_server',
      'serve',
    ]);
    assert.deepEqual(parseServerCommand(['gorilla-lsp', 'serve'], ctx), ['gorilla-lsp', 'serve']);
  });

  it('warns on a wrong type', () => {
    const warnings: string[] = [];
    assert.equal(parseServerCommand({ cmd: 'x' }, {}, warnings), undefined);
    assert.equal(warnings.length, 1);
  });
});

describe('splitCommandLine / expandPath', () => {
  it('splits with quotes and escapes', () => {
    assert.deepEqual(splitCommandLine(`a 'b c' "d \\"e\\"" f\\ g ''`), ['a', 'b c', 'd "e"', 'f g', '']);
  });
  it('expands variables', () => {
    assert.equal(expandPath('${userHome}/x', ctx), '/home/u/x');
    assert.equal(expandPath('', ctx), '');
    assert.equal(expandPath('rel', {}), 'rel');
  });
});

describe('needsRestart', () => {
  const base = readSettings(getter({}), ctx);
  const withValue = (key: string, value: unknown) => readSettings(getter({ [key]: value }), ctx);
  it('restarts for the server command, model.* and the API database', () => {
    assert.equal(needsRestart(base, withValue('serverCommand', ['/x/gorilla-lsp', 'serve'])), true);
    assert.equal(needsRestart(base, withValue('model.path', '/m')), true);
    assert.equal(needsRestart(base, withValue('model.device', 'cpu')), true);
    assert.equal(needsRestart(base, withValue('model.computeType', 'int8')), true);
    assert.equal(needsRestart(base, withValue('model.template', 'other')), true);
    assert.equal(needsRestart(base, withValue('apiDatabase', ['/db'])), true);
  });
  it('does not restart for the other settings', () => {
    assert.equal(needsRestart(base, readSettings(getter({}), ctx)), false);
    assert.equal(needsRestart(base, withValue('retrieval.topK', 9)), false);
    assert.equal(needsRestart(base, withValue('completion.maxCandidates', 9)), false);
    assert.equal(needsRestart(base, withValue('completion.hallucinated', 'hide')), false);
    assert.equal(needsRestart(base, withValue('diagnostics.enabled', false)), false);
    assert.equal(needsRestart(base, withValue('diagnostics.severity', 'hint')), false);
    assert.equal(needsRestart(base, withValue('verification.online', false)), false);
    assert.equal(needsRestart(base, withValue('trace.server', 'verbose')), false);
  });
});
