-- A setting's documented default is the one the server uses (issue #16 item 6): the README's
-- settings table says PG_POOL_SIZE is N, and a server started without PG_POOL_SIZE opens a pool
-- of N connections per worker (GET /admin/status). spec/unit/test_config.c checks every
-- numeric row of the table against config.c, and the pool's own fallback.
local h = require "spec.helpers"

local TOKEN = string.rep("d3fault", 6)

-- The README's documented default of a setting: its row in the settings table, the value at
-- the same position as the name ("| `A`, `B` | 1, 2 | ...").
local function documented(name)
  for line in (h.read_file(h.root .. "/README.md") or ""):gmatch("[^\n]+") do
    local names, values = line:match("^| (`[^|]+) | ([^|]+) |")
    if names then
      local i, pos = 0, nil
      for n in names:gmatch("`([%w_]+)`") do
        i = i + 1
        if n == name then pos = i end
      end
      if pos then
        local j = 0
        for v in values:gmatch("[^,/]+") do
          j = j + 1
          if j == pos then return tonumber((v:gsub("^%s+", ""):gsub("%s+$", ""))) end
        end
      end
    end
  end
end

describe("settings' defaults", function()
  local srv

  setup(function()
    srv = h.start{ env = { ADMIN_TOKEN = TOKEN, PG_POOL_SIZE = false } }
  end)

  teardown(function()
    if srv then srv:stop() end
  end)

  it("PG_POOL_SIZE unset: each worker's pool has the README's default size", function()
    local want = documented("PG_POOL_SIZE")
    assert.is_number(want, "README.md documents no PG_POOL_SIZE default")
    local res = srv:request{ method = "GET", path = "/admin/status",
                             headers = { Authorization = "Bearer " .. TOKEN } }
    assert.equal(200, res.status, res.body)
    assert.equal(want, res.json.postgres.size, res.body)
  end)
end)
