// The language client and its lifecycle: find the server, start it with the settings as
// initialization options, keep the status bar in sync, restart on the changes that need it.
import * as vscode from 'vscode';
import {
  ConfigurationParams,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  NotificationHandler,
  ProgressType,
  ResponseError,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import {
  CLIENT_ID,
  CLIENT_NAME,
  CONFIG_SECTION,
  INSTALL_DOCS_URL,
  ServerCommands,
  STATUS_NOTIFICATION,
} from './constants';
import { getPythonInterpreter, onDidChangePythonInterpreter } from './python';
import {
  describeServer,
  isExecutableFile,
  makeWhich,
  pythonHasModule,
  resolveServer,
  ServerCommand,
  ServerSource,
} from './server';
import { initializationOptions, needsRestart, readSettings, ServerSettings, Settings } from './settings';
import { parseStatusParams, StatusSnapshot } from './status';
import { StatusBar } from './statusBar';

const RESTART_DEBOUNCE_MS = 400;

type WorkDoneValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

/** LanguageClient that lets us watch `$/progress` work-done values while the built-in progress UI
 * (VS Code notification) keeps working: the client's ProgressPart registers through `onProgress`. */
export class GorillaLanguageClient extends LanguageClient {
  /** Where the server command came from. */
  public serverSource?: ServerSource;
  public workDoneListener?: (token: string | number, value: WorkDoneValue) => void;

  public override onProgress<P>(
    type: ProgressType<P>,
    token: string | number,
    handler: NotificationHandler<P>,
  ): vscode.Disposable {
    if (WorkDoneProgress.is(type)) {
      return super.onProgress(type, token, (value: P) => {
        try {
          this.workDoneListener?.(token, value as unknown as WorkDoneValue);
        } finally {
          void handler(value);
        }
      });
    }
    return super.onProgress(type, token, handler);
  }
}

export function workspaceFolderPath(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

export function loadSettings(): Settings {
  const cfg = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return readSettings((key) => cfg.get(key), { workspaceFolder: workspaceFolderPath() });
}

/** Value for a `workspace/configuration` item below `gorillaLsp` (e.g. `gorillaLsp.model`). */
function settingsSection(server: ServerSettings, section: string): unknown {
  if (section === CONFIG_SECTION) {
    return server;
  }
  let cur: unknown = server;
  for (const part of section.slice(CONFIG_SECTION.length + 1).split('.')) {
    if (cur && typeof cur === 'object' && part in cur) {
      cur = (cur as Record<string, unknown>)[part];
    } else {
      return undefined;
    }
  }
  return cur;
}

export function createClient(server: ServerCommand, settings: Settings, output: vscode.LogOutputChannel, cwd?: string) {
  const serverOptions: ServerOptions = {
    // No `transport`: TransportKind.stdio would append `--stdio` to the command line; stdio is the default.
    command: server.command,
    args: server.args,
    options: { cwd, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  };
  // The restart decision is taken against the settings this process was started with.
  const startedWith = settings;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
    ],
    outputChannel: output,
    traceOutputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: initializationOptions(settings),
    synchronize: { configurationSection: CONFIG_SECTION },
    middleware: {
      workspace: {
        // Send validated settings ({gorillaLsp: ServerSettings}) instead of the raw configuration;
        // changes that need a new process are left to the restart.
        didChangeConfiguration: async (sections, next) => {
          if (sections === undefined) {
            return next(sections);
          }
          const current = loadSettings();
          if (needsRestart(startedWith, current)) {
            return;
          }
          const settings = initializationOptions(current);
          output.info(`Sending workspace/didChangeConfiguration: ${JSON.stringify(settings)}`);
          await client.sendNotification(DidChangeConfigurationNotification.type, { settings });
        },
        configuration: async (params: ConfigurationParams, token, next) => {
          const result: unknown = await next(params, token);
          if (!Array.isArray(result)) {
            return result as ResponseError<void>;
          }
          const current = loadSettings();
          return params.items.map((item, i) =>
            item.section === CONFIG_SECTION || item.section?.startsWith(`${CONFIG_SECTION}.`)
              ? (settingsSection(current.server, item.section) ?? (result[i] as unknown))
              : (result[i] as unknown),
          );
        },
      },
    },
  };
  const client = new GorillaLanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  return client;
}

/** Owns the current client; every start/stop/restart goes through one queue. */
export class ServerManager implements vscode.Disposable {
  private client?: GorillaLanguageClient;
  private settings?: Settings;
  private queue: Promise<void> = Promise.resolve();
  private notFoundShown = false;
  private stopping = false;
  private requested = false;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private snapshot: StatusSnapshot = { client: 'idle' };
  private readonly progress = new Map<string | number, { title?: string; message?: string; percentage?: number }>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly statusBar: StatusBar,
  ) {
    this.render();
    void onDidChangePythonInterpreter(() => {
      if (this.client?.serverSource === 'python' || this.snapshot.client === 'notFound') {
        this.output.info('Python interpreter changed: restarting the server.');
        void this.restart(false);
      }
    }).then((d) => this.disposables.push(d));
  }

  /** True once a start was requested (first Python document, or a command). */
  get started(): boolean {
    return this.requested;
  }

  get languageClient(): GorillaLanguageClient | undefined {
    return this.client;
  }

  start(): Promise<void> {
    this.requested = true;
    return this.enqueue(() => this.doStart());
  }

  /** `userRequested`: the notification about a missing server may be shown again. */
  restart(userRequested: boolean): Promise<void> {
    this.requested = true;
    return this.enqueue(async () => {
      if (userRequested) {
        this.notFoundShown = false;
      }
      await this.doStop();
      await this.doStart();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  onDidChangeConfiguration(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(CONFIG_SECTION) || !this.started) {
      return;
    }
    const next = loadSettings();
    for (const w of next.warnings) {
      this.output.warn(w);
    }
    if (!this.settings || needsRestart(this.settings, next)) {
      // Debounced: typing a path in the Settings editor fires one event per pause.
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.output.info('Settings changed (server command, model or API database): restarting the server.');
        void this.restart(false);
      }, RESTART_DEBOUNCE_MS);
    } else {
      this.snapshot.configured = { modelPath: next.server.model.path, device: next.server.model.device };
      this.render();
    }
  }

  async reloadApiDatabase(): Promise<void> {
    const client = this.client;
    if (!client || !client.isRunning()) {
      void vscode.window.showWarningMessage('Gorilla LSP: the language server is not running.');
      return;
    }
    try {
      const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
        command: ServerCommands.reloadApiDatabase,
        arguments: [],
      });
      const detail = typeof result === 'string' ? `: ${result}` : '';
      this.output.info(`API database reloaded ${JSON.stringify(result ?? null)}`);
      void vscode.window.showInformationMessage(`Gorilla LSP: API database reloaded${detail}`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.output.error(`Reloading the API database failed: ${msg}`);
      void vscode.window.showErrorMessage(`Gorilla LSP: reloading the API database failed: ${msg}`);
    }
  }

  async dispose(): Promise<void> {
    clearTimeout(this.restartTimer);
    for (const d of this.disposables) {
      d.dispose();
    }
    await this.stop();
  }

  // ---------------------------------------------------------------------------------------------

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task, task);
    this.queue = run.catch((e: unknown) => {
      this.output.error(`Gorilla LSP: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    });
    return this.queue;
  }

  private setStatus(update: Partial<StatusSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...update };
    this.render();
  }

  private render(): void {
    this.statusBar.update(this.snapshot);
  }

  private async doStart(): Promise<void> {
    if (this.client) {
      return;
    }
    const settings = loadSettings();
    this.settings = settings;
    for (const w of settings.warnings) {
      this.output.warn(w);
    }
    this.progress.clear();
    this.setStatus({
      client: 'starting',
      server: undefined,
      progress: undefined,
      error: undefined,
      serverDescription: undefined,
      configured: { modelPath: settings.server.model.path, device: settings.server.model.device },
    });

    const cwd = workspaceFolderPath();
    const resolved = await resolveServer(settings.serverCommand, {
      which: makeWhich(),
      isExecutable: isExecutableFile,
      pythonInterpreter: () => getPythonInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri),
      hasPythonModule: (python, module) => pythonHasModule(python, module, cwd),
    });
    for (const line of resolved.attempts) {
      this.output.info(`Server lookup: ${line}`);
    }
    if (!resolved.server) {
      this.setStatus({ client: 'notFound' });
      this.showNotFound(resolved.attempts);
      return;
    }

    const description = describeServer(resolved.server);
    this.output.info(`Starting ${description}${cwd ? ` (cwd ${cwd})` : ''}`);
    this.output.info(`Initialization options: ${JSON.stringify(initializationOptions(settings))}`);
    const client = createClient(resolved.server, settings, this.output, cwd);
    client.serverSource = resolved.server.source;
    this.client = client;
    this.setStatus({ serverDescription: description });

    client.onNotification(STATUS_NOTIFICATION, (raw: unknown) => {
      if (this.client !== client) {
        return;
      }
      const params = parseStatusParams(raw);
      if (!params) {
        this.output.warn(`Ignored malformed ${STATUS_NOTIFICATION}: ${JSON.stringify(raw)}`);
        return;
      }
      this.output.info(`Server status: ${JSON.stringify(params)}`);
      this.setStatus({ server: params });
    });
    client.workDoneListener = (token, value) => {
      if (this.client !== client) {
        return;
      }
      if (value.kind === 'end') {
        this.progress.delete(token);
      } else {
        const prev = this.progress.get(token) ?? {};
        this.progress.set(token, {
          title: value.kind === 'begin' ? value.title : prev.title,
          message: value.message ?? prev.message,
          percentage: value.percentage ?? prev.percentage,
        });
      }
      const active = [...this.progress.values()];
      this.setStatus({ progress: active.length > 0 ? active[active.length - 1] : undefined });
    };
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Starting) {
        this.progress.clear();
        this.setStatus({ client: 'starting', server: undefined, progress: undefined, error: undefined });
      } else if (e.newState === State.Running) {
        this.setStatus({ client: 'running' });
      } else if (e.newState === State.Stopped && !this.stopping) {
        this.setStatus({ client: 'failed', error: 'The server process stopped. See the log.' });
      }
    });

    try {
      await client.start();
      this.output.info(`Server initialized: ${client.initializeResult?.serverInfo?.name ?? 'unknown'} ${client.initializeResult?.serverInfo?.version ?? ''}`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.output.error(`Starting the server failed: ${msg}`);
      this.setStatus({ client: 'failed', error: msg });
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) {
      return;
    }
    this.stopping = true;
    try {
      if (client.needsStop()) {
        await client.stop(5000);
      }
    } catch (e) {
      this.output.warn(`Stopping the server: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.stopping = false;
      await client.dispose().catch(() => undefined);
    }
    this.setStatus({ client: 'stopped', server: undefined, progress: undefined });
  }

  private showNotFound(attempts: string[]): void {
    if (this.notFoundShown) {
      return;
    }
    this.notFoundShown = true;
    this.output.error(`Gorilla LSP server not found.\n  ${attempts.join('\n  ')}`);
    const install = 'How to Install';
    const settings = 'Open Settings';
    void vscode.window
      .showErrorMessage(
        'Gorilla LSP: language server not found. Install the gorilla-lsp Python package in the selected ' +
          'Python environment (or on PATH), or set "gorillaLsp.serverCommand".',
        install,
        settings,
      )
      .then((choice) => {
        if (choice === install) {
          void vscode.env.openExternal(vscode.Uri.parse(INSTALL_DOCS_URL));
        } else if (choice === settings) {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'gorillaLsp.serverCommand');
        }
      });
  }
}
