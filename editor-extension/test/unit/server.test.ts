import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeServer, makeWhich, ResolveDeps, resolveServer } from '../../src/server';

interface FakeWorld {
  executables?: string[];
  path?: string[];
  python?: string[] | undefined | Error;
  modules?: Record<string, string[]>; // interpreter -> importable modules
}

function fakeDeps(w: FakeWorld): ResolveDeps & { calls: string[] } {
  const calls: string[] = [];
  const exes = new Set(w.executables ?? []);
  const isExecutable = (f: string) => {
    calls.push(`isExecutable ${f}`);
    return Promise.resolve(exes.has(f));
  };
  const which = makeWhich({ PATH: (w.path ?? []).join(':') }, (f) => Promise.resolve(exes.has(f)), 'linux');
  return {
    calls,
    isExecutable,
    which: (name) => {
      calls.push(`which ${name}`);
      return which(name);
    },
    pythonInterpreter: () => {
      calls.push('pythonInterpreter');
      return w.python instanceof Error ? Promise.reject(w.python) : Promise.resolve(w.python);
    },
    hasPythonModule: (python, module) => {
      calls.push(`hasPythonModule ${python.join(' ')} ${module}`);
      return Promise.resolve((w.modules?.[python[0]] ?? []).includes(module));
    },
  };
}

const everything: FakeWorld = {
  executables: ['/custom/gorilla-lsp', '/venv/bin/python', '/usr/local/bin/gorilla-lsp'],
  path: ['/usr/bin', '/usr/local/bin'],
  python: ['/venv/bin/python'],
  modules: { '/venv/bin/python': ['lsp_server'] },
};

describe('resolveServer order', () => {
  it('1. uses gorillaLsp.serverCommand first', async () => {
    const deps = fakeDeps(everything);
    const r = await resolveServer(['/custom/gorilla-lsp', 'serve', '--verbose'], deps);
    assert.deepEqual(r.server, { command: '/custom/gorilla-lsp', args: ['serve', '--verbose'], source: 'setting' });
    assert.ok(!deps.calls.includes('pythonInterpreter'), 'does not ask the Python extension');
  });

  it('1. resolves a bare serverCommand name on PATH', async () => {
    const r = await resolveServer(['gorilla-lsp', 'serve'], fakeDeps(everything));
    assert.deepEqual(r.server, { command: '/usr/local/bin/gorilla-lsp', args: ['serve'], source: 'setting' });
  });

  it('2. then the Python extension interpreter with -m lsp_server serve', async () => {
    const r = await resolveServer(undefined, fakeDeps(everything));
    assert.deepEqual(r.server, { command: '/venv/bin/python', args: ['-m', 'lsp_server', 'serve'], source: 'python' });
  });

  it('2. keeps interpreter prefix arguments (e.g. conda run)', async () => {
    const r = await resolveServer(
      undefined,
      fakeDeps({
        executables: ['/opt/conda/bin/conda'],
        python: ['/opt/conda/bin/conda', 'run', '-n', 'env', 'python'],
        modules: { '/opt/conda/bin/conda': ['lsp_server'] },
      }),
    );
    assert.deepEqual(r.server, {
      command: '/opt/conda/bin/conda',
      args: ['run', '-n', 'env', 'python', '-m', 'lsp_server', 'serve'],
      source: 'python',
    });
  });

  it('3. then gorilla-lsp on PATH when the interpreter lacks the package', async () => {
    const deps = fakeDeps({ ...everything, modules: {} });
    const r = await resolveServer(undefined, deps);
    assert.deepEqual(r.server, { command: '/usr/local/bin/gorilla-lsp', args: ['serve'], source: 'path' });
    assert.ok(r.attempts.some((a) => a.includes("no 'lsp_server' module")));
  });

  it('3. then gorilla-lsp on PATH without the Python extension', async () => {
    const r = await resolveServer(undefined, fakeDeps({ ...everything, python: undefined }));
    assert.equal(r.server?.source, 'path');
  });

  it('3. survives a failing Python extension', async () => {
    const r = await resolveServer(undefined, fakeDeps({ ...everything, python: new Error('boom') }));
    assert.equal(r.server?.source, 'path');
    assert.ok(r.attempts.some((a) => a.includes('boom')));
  });

  it('falls through a broken serverCommand to the next candidates', async () => {
    const r = await resolveServer(['/missing/gorilla-lsp', 'serve'], fakeDeps(everything));
    assert.equal(r.server?.source, 'python');
    assert.ok(r.attempts[0].includes('/missing/gorilla-lsp'));
  });

  it('returns no server (and says why) when nothing works', async () => {
    const r = await resolveServer(['/missing/x'], fakeDeps({ path: ['/usr/bin'], python: ['/nope/python'] }));
    assert.equal(r.server, undefined);
    assert.equal(r.attempts.length, 3);
    assert.match(r.attempts[0], /serverCommand/);
    assert.match(r.attempts[1], /Python extension/);
    assert.match(r.attempts[2], /PATH/);
  });
});

describe('which', () => {
  it('searches PATH in order', async () => {
    const which = makeWhich({ PATH: '/a:/b:/c' }, (f) => Promise.resolve(f === '/b/tool' || f === '/c/tool'), 'linux');
    assert.equal(await which('tool'), '/b/tool');
    assert.equal(await which('other'), undefined);
  });
  it('uses PATHEXT on Windows', async () => {
    const which = makeWhich(
      { Path: 'C:\\bin;C:\\py\\Scripts', PATHEXT: '.EXE;.CMD' },
      (f) => Promise.resolve(f === 'C:\\py\\Scripts\\gorilla-lsp.exe'),
      'win32',
    );
    assert.equal(await which('gorilla-lsp'), 'C:\\py\\Scripts\\gorilla-lsp.exe');
  });
});

describe('describeServer', () => {
  it('quotes arguments with spaces', () => {
    assert.equal(
      describeServer({ command: '/my dir/python', args: ['-m', 'lsp_server', 'serve'], source: 'python' }),
      '"/my dir/python" -m lsp_server serve',
    );
  });
});
