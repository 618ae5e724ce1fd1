import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { engineLabel, modelName, normalizePercent, parseStatusParams, renderStatus, StatusSnapshot } from '../../src/status';

const retrievalReady = parseStatusParams({
  state: 'ready',
  engine: 'retrieval',
  model: null,
  device: null,
  message: null,
  progress: null,
});

describe('parseStatusParams', () => {
  it('accepts the documented shape', () => {
    assert.deepEqual(
      parseStatusParams({
        state: 'loading',
        engine: 'ctranslate2',
        model: '/m/gorilla-7b',
        device: 'cuda',
        message: 'Loading',
        progress: 40,
      }),
      { state: 'loading', engine: 'ctranslate2', model: '/m/gorilla-7b', device: 'cuda', message: 'Loading', progress: 40 },
    );
  });
  it('rejects unknown states and non-objects, tolerates missing fields', () => {
    assert.equal(parseStatusParams(null), undefined);
    assert.equal(parseStatusParams('ready'), undefined);
    assert.equal(parseStatusParams({ state: 'sleeping' }), undefined);
    assert.deepEqual(parseStatusParams({ state: 'ready' }), {
      state: 'ready',
      engine: 'retrieval',
      model: null,
      device: null,
      message: null,
      progress: null,
    });
  });
});

describe('helpers', () => {
  it('modelName / engineLabel', () => {
    assert.equal(modelName('/models/gorilla-7b-ct2/'), 'gorilla-7b-ct2');
    assert.equal(modelName('C:\\m\\g7b'), 'g7b');
    assert.equal(engineLabel('retrieval', null, null), 'retrieval only');
    assert.equal(engineLabel('ctranslate2', '/m/g7b', 'cuda'), 'g7b · cuda');
    assert.equal(engineLabel('ctranslate2', '/m/g7b', null), 'g7b');
  });
  it('normalizePercent', () => {
    assert.equal(normalizePercent(null), undefined);
    assert.equal(normalizePercent(42.4), 42);
    assert.equal(normalizePercent(0.5), 50);
    assert.equal(normalizePercent(150), 100);
    assert.equal(normalizePercent(0), 0);
  });
});

function view(s: StatusSnapshot) {
  return renderStatus(s);
}

describe('renderStatus', () => {
  it('idle', () => {
    const v = view({ client: 'idle' });
    assert.equal(v.text, '$(circle-outline) Gorilla');
    assert.match(v.tooltip, /Click to show the log/);
  });

  it('client starting before the server reports', () => {
    const v = view({ client: 'starting', configured: { modelPath: '', device: 'auto' } });
    assert.equal(v.text, '$(sync~spin) Gorilla: starting');
    assert.equal(v.busy, true);
    assert.match(v.tooltip, /retrieval only/);
  });

  it('ready, retrieval only', () => {
    const v = view({ client: 'running', server: retrievalReady, serverDescription: '/v/bin/gorilla-lsp serve' });
    assert.equal(v.text, '$(check) Gorilla: retrieval only');
    assert.equal(v.severity, 'none');
    assert.equal(v.busy, false);
    assert.match(v.tooltip, /Server: \/v\/bin\/gorilla-lsp serve/);
  });

  it('ready with a model shows model and device', () => {
    const v = view({
      client: 'running',
      server: { state: 'ready', engine: 'ctranslate2', model: '/models/gorilla-7b-ct2', device: 'cuda', message: null, progress: null },
    });
    assert.equal(v.text, '$(check) Gorilla: gorilla-7b-ct2 · cuda');
    assert.match(v.tooltip, /CTranslate2 model \/models\/gorilla-7b-ct2 on cuda/);
  });

  it('loading with progress from gorilla/status', () => {
    const v = view({
      client: 'running',
      server: { state: 'loading', engine: 'ctranslate2', model: '/m/g7b', device: 'cpu', message: 'Reading weights', progress: 42 },
    });
    assert.equal(v.text, '$(sync~spin) Gorilla: loading g7b 42%');
    assert.equal(v.busy, true);
    assert.match(v.tooltip, /Reading weights/);
  });

  it('loading with progress from $/progress', () => {
    const v = view({
      client: 'running',
      server: { state: 'loading', engine: 'ctranslate2', model: '/m/g7b', device: 'cpu', message: null, progress: null },
      progress: { title: 'Loading model', percentage: 70 },
    });
    assert.equal(v.text, '$(sync~spin) Gorilla: loading g7b 70%');
  });

  it('loading the index for the retrieval engine', () => {
    const v = view({
      client: 'running',
      server: { state: 'loading', engine: 'retrieval', model: null, device: null, message: 'Indexing', progress: 0.2 },
    });
    assert.equal(v.text, '$(sync~spin) Gorilla: loading API index 20%');
    assert.match(v.tooltip, /API index/);
  });

  it('work-done progress without gorilla/status', () => {
    const v = view({
      client: 'running',
      configured: { modelPath: '/m/g7b', device: 'cuda' },
      progress: { title: 'Loading model', message: 'shard 2/3', percentage: 66 },
    });
    assert.equal(v.text, '$(sync~spin) Gorilla: g7b · cuda 66%');
    assert.match(v.tooltip, /Loading model: shard 2\/3/);
  });

  it('running without any status falls back to the configured engine', () => {
    assert.equal(view({ client: 'running', configured: { modelPath: '', device: 'auto' } }).text, '$(check) Gorilla: retrieval only');
  });

  it('server error', () => {
    const v = view({
      client: 'running',
      server: { state: 'error', engine: 'ctranslate2', model: '/m/g7b', device: 'cuda', message: 'CUDA out of memory', progress: null },
    });
    assert.equal(v.text, '$(error) Gorilla: error');
    assert.equal(v.severity, 'error');
    assert.match(v.tooltip, /CUDA out of memory/);
  });

  it('not found / failed / stopped', () => {
    const nf = view({ client: 'notFound' });
    assert.equal(nf.text, '$(warning) Gorilla: server not found');
    assert.equal(nf.severity, 'warning');
    assert.match(nf.tooltip, /gorillaLsp\.serverCommand/);
    const f = view({ client: 'failed', error: 'spawn ENOENT' });
    assert.equal(f.text, '$(error) Gorilla: server failed');
    assert.match(f.tooltip, /spawn ENOENT/);
    assert.equal(view({ client: 'stopped' }).text, '$(circle-slash) Gorilla: stopped');
  });
});
