-- Headless Neovim (0.7+) driver for the Gorilla language server, adapted from the editor-e2e notes.
-- Env: GORILLA_OUT (result JSON), SERVER_PY (python), API_DB (API database dir).
-- Usage: nvim --headless -u init.lua sample.py
local out_path = os.getenv('GORILLA_OUT') or 'result.json'
local py = os.getenv('SERVER_PY') or 'python3'
local api_db = os.getenv('API_DB')
vim.lsp.set_log_level('warn')

local function finish(res, code)
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(res))
  f:close()
  vim.cmd((code == 0) and 'qa!' or ('cq! ' .. code))
end

local function find_line(bufnr, pattern)
  for i, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if line:find(pattern, 1, true) then return i - 1 end
  end
  return nil
end

local function run()
  local res = { nvim = tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch) }
  local t0 = vim.loop.hrtime()
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = 'gorilla-lsp',
    cmd = { py, '-m', 'lsp_server', 'serve', '--api-db', api_db },
    root_dir = vim.loop.cwd(),
  })
  if not client_id then return finish({ error = 'start_client failed' }, 2) end
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not vim.wait(15000, function() return client.initialized end, 20) then
    return finish({ error = 'initialize timeout' }, 3)
  end
  res.init_ms = (vim.loop.hrtime() - t0) / 1e6
  local uri = vim.uri_from_bufnr(bufnr)

  -- diagnostics on the invented call
  vim.wait(10000, function() return #vim.diagnostic.get(bufnr) > 0 end, 20)
  res.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(res.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, message = d.message,
      severity = d.severity, source = d.source, code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code) })
  end

  -- hover on the invented call
  local bad = find_line(bufnr, 'resnet9000')
  local r, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover',
    { textDocument = { uri = uri }, position = { line = bad, character = 12 } }, 5000)
  res.hover = r and r[client_id] and r[client_id].result or { error = err }

  -- completion on the blank line under the request comment, then accept the first item
  local blank = find_line(bufnr, '# classify actions') + 1
  local pos = { textDocument = { uri = uri }, position = { line = blank, character = 0 } }
  r, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', pos, 5000)
  res.completion = r and r[client_id] and r[client_id].result or { error = err }
  -- not a method 0.7 knows: sent raw
  r, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/inlineCompletion',
    vim.tbl_extend('force', pos, { context = { triggerKind = 1 } }), 5000)
  res.inline_completion = r and r[client_id] and r[client_id].result or { error = err }
  local items = res.completion.items or res.completion
  if items and items[1] and items[1].textEdit then
    local edits = { items[1].textEdit }
    for _, e in ipairs(items[1].additionalTextEdits or {}) do table.insert(edits, e) end
    vim.lsp.util.apply_text_edits(edits, bufnr, 'utf-16')
  end
  res.lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)

  res.total_ms = (vim.loop.hrtime() - t0) / 1e6
  vim.lsp.stop_client(client_id)
  finish(res, 0)
end

vim.api.nvim_create_autocmd('VimEnter', { once = true, callback = function() vim.schedule(run) end })
