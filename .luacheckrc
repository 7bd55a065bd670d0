-- luacheck settings for scripts/, host/lib/ and spec/ (`make lint`).
std = "luajit"
max_line_length = 100
codes = true

-- Specs run under busted (spec/api) or `speezy test` (spec/lua), which provide the same
-- describe/it/assert globals.
files["spec/**/*_spec.lua"] = { std = "+busted" }

exclude_files = {
  "spec/fixtures/scripts/broken_syntax/**", -- a syntax error on purpose
  "spec/bench/node/**",
  "build*/**",
}
