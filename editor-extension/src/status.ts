// Status: the pure function from what is known about the server (client state, the server's
// `gorilla/status` notification, `$/progress` work-done progress) to the status bar text and tooltip.
// No `vscode` import: unit-tested without an editor.

export type ServerState = 'starting' | 'loading' | 'ready' | 'error';
export type Engine = 'retrieval' | 'ctranslate2';

/** Params of the server's `gorilla/status` notification. `progress` is a percentage (0-100, as in
 * LSP work-done progress); a fraction below 1 with decimals (e.g. 0.42) is read as 42 %. */
export interface GorillaStatusParams {
  state: ServerState;
  engine: Engine;
  model: string | null;
  device: string | null;
  message: string | null;
  progress: number | null;
}

/** Client-side lifecycle. */
export type ClientState =
  | 'idle' // no Python file opened yet
  | 'starting' // resolving the server / process starting / initialize in flight
  | 'running' // initialized
  | 'stopped'
  | 'notFound' // no server executable found
  | 'failed'; // start failed or the server died

export interface ProgressSnapshot {
  title?: string;
  message?: string;
  percentage?: number;
}

export interface StatusSnapshot {
  client: ClientState;
  /** Last `gorilla/status` of the current server process. */
  server?: GorillaStatusParams;
  /** Active `$/progress` (work-done) of the current server process, if any. */
  progress?: ProgressSnapshot;
  /** Configured model (`gorillaLsp.model.path`/`device`), used until the server reports its engine. */
  configured?: { modelPath: string; device: string };
  /** e.g. the server command line. */
  serverDescription?: string;
  /** Error text for `failed`. */
  error?: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'none' | 'warning' | 'error';
  /** True while something is in progress (spinner). */
  busy: boolean;
}

const NAME = 'Gorilla';

/** Validates a `gorilla/status` payload; returns undefined when it is not usable. */
export function parseStatusParams(raw: unknown): GorillaStatusParams | undefined {
  if (!raw || typeof raw !== 'object') {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const states: ServerState[] = ['starting', 'loading', 'ready', 'error'];
  if (typeof r.state !== 'string' || !states.includes(r.state as ServerState)) {
    return undefined;
  }
  const optStr = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);
  return {
    state: r.state as ServerState,
    engine: r.engine === 'ctranslate2' ? 'ctranslate2' : 'retrieval',
    model: optStr(r.model),
    device: optStr(r.device),
    message: optStr(r.message),
    progress: typeof r.progress === 'number' && Number.isFinite(r.progress) ? r.progress : null,
  };
}

/** 0-100, rounded; fractions (0 < p < 1 with decimals) are scaled. */
export function normalizePercent(p: number | null | undefined): number | undefined {
  if (p === null || p === undefined || !Number.isFinite(p)) {
    return undefined;
  }
  const v = p > 0 && p < 1 ? p * 100 : p;
  return Math.max(0, Math.min(100, Math.round(v)));
}

/** Short model name: the last path component (`/models/gorilla-7b-ct2/` -> `gorilla-7b-ct2`). */
export function modelName(model: string): string {
  const parts = model.split(/[\\/]+/).filter((s) => s.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : model;
}

/** "retrieval only" or "<model> · <device>". */
export function engineLabel(engine: Engine, model: string | null | undefined, device: string | null | undefined): string {
  if (engine === 'retrieval' || !model) {
    return 'retrieval only';
  }
  return device ? `${modelName(model)} · ${device}` : modelName(model);
}

function engineDescription(engine: Engine, model: string | null | undefined, device: string | null | undefined): string {
  if (engine === 'retrieval' || !model) {
    return 'Engine: retrieval only (BM25 over the API database, no model)';
  }
  return `Engine: CTranslate2 model ${model}${device ? ` on ${device}` : ''}`;
}

export function renderStatus(s: StatusSnapshot): StatusView {
  const lines: string[] = [];
  let text: string;
  let severity: StatusView['severity'] = 'none';
  let busy = false;

  const configuredEngine: Engine = s.configured?.modelPath ? 'ctranslate2' : 'retrieval';
  const engine = s.server?.engine ?? configuredEngine;
  const model = s.server ? s.server.model : s.configured?.modelPath || null;
  const device = s.server ? s.server.device : s.configured?.device || null;
  const label = engineLabel(engine, model, device);
  const progressPct = normalizePercent(s.server?.progress) ?? normalizePercent(s.progress?.percentage);
  const pct = progressPct !== undefined ? ` ${progressPct}%` : '';

  switch (s.client) {
    case 'idle':
      text = `$(circle-outline) ${NAME}`;
      lines.push('Gorilla LSP: waiting for a Python file.');
      break;
    case 'notFound':
      text = `$(warning) ${NAME}: server not found`;
      severity = 'warning';
      lines.push('Gorilla LSP: the language server was not found.');
      lines.push('Install the gorilla-lsp Python package or set gorillaLsp.serverCommand.');
      break;
    case 'failed':
      text = `$(error) ${NAME}: server failed`;
      severity = 'error';
      lines.push('Gorilla LSP: the language server failed.');
      if (s.error) {
        lines.push(s.error);
      }
      break;
    case 'stopped':
      text = `$(circle-slash) ${NAME}: stopped`;
      lines.push('Gorilla LSP: the language server is stopped.');
      break;
    case 'starting':
    case 'running': {
      const st: ServerState | undefined = s.server?.state ?? (s.client === 'starting' ? 'starting' : undefined);
      if (st === 'error') {
        text = `$(error) ${NAME}: error`;
        severity = 'error';
        lines.push(`Gorilla LSP: error (${label}).`);
      } else if (st === 'loading') {
        busy = true;
        const what = engine === 'ctranslate2' && model ? modelName(model) : engine === 'ctranslate2' ? 'model' : 'API index';
        text = `$(sync~spin) ${NAME}: loading ${what}${pct}`;
        lines.push(`Gorilla LSP: loading ${engine === 'ctranslate2' ? 'the model' : 'the API index'}${pct}.`);
      } else if (s.progress && st !== 'starting') {
        busy = true;
        const pp = normalizePercent(s.progress.percentage);
        text = `$(sync~spin) ${NAME}: ${label}${pp !== undefined ? ` ${pp}%` : ''}`;
        lines.push(`Gorilla LSP: ${s.progress.title ?? 'working'}${pp !== undefined ? ` (${pp}%)` : ''}.`);
      } else if (st === 'starting') {
        busy = true;
        text = `$(sync~spin) ${NAME}: starting`;
        lines.push('Gorilla LSP: starting the language server.');
      } else {
        text = `$(check) ${NAME}: ${label}`;
        lines.push(`Gorilla LSP: ready (${label}).`);
      }
      break;
    }
  }

  if (s.client === 'starting' || s.client === 'running') {
    lines.push(engineDescription(engine, model, device));
  }
  if (s.server?.message) {
    lines.push(s.server.message);
  }
  if (s.progress && (s.progress.title || s.progress.message)) {
    lines.push([s.progress.title, s.progress.message].filter(Boolean).join(': '));
  }
  if (s.serverDescription) {
    lines.push(`Server: ${s.serverDescription}`);
  }
  lines.push('Click to show the log.');
  return { text, tooltip: lines.join('\n'), severity, busy };
}
