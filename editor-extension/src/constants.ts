// Identifiers shared by the extension modules. No `vscode` import: unit tests load this file.

/** Configuration section read by the extension and sent to the server (`{"gorillaLsp": {...}}`). */
export const CONFIG_SECTION = 'gorillaLsp';

/** Language client id: VS Code reads `${CLIENT_ID}.trace.server` for the protocol trace. */
export const CLIENT_ID = 'gorillaLsp';
export const CLIENT_NAME = 'Gorilla LSP';

/** Where users learn how to install the Python server (README, section "Install"). */
export const REPOSITORY_URL = 'https://github.com/gorilla-lsp/gorilla-lsp';
export const INSTALL_DOCS_URL = `${REPOSITORY_URL}#install`;

/** Python package (run as `python -m lsp_server serve`) and console script of the server. */
export const SERVER_MODULE = 'lsp_server';
export const SERVER_EXECUTABLE = 'gorilla-lsp';
export const SERVER_SUBCOMMAND = 'serve';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

export const Commands = {
  restartServer: 'gorillaLsp.restartServer',
  reloadApiDatabase: 'gorillaLsp.reloadApiDatabase',
  showLog: 'gorillaLsp.showLog',
} as const;

/** workspace/executeCommand commands implemented by the server. */
export const ServerCommands = {
  reloadApiDatabase: 'gorilla.reloadApiDatabase',
} as const;

/** Custom server -> client notification carrying the engine state. */
export const STATUS_NOTIFICATION = 'gorilla/status';
