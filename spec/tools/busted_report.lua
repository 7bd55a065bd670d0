-- spec/tools/busted_report.lua — the busted output handler spec/run gives the API specs
-- (`busted -o spec/tools/busted_report.lua`): one line per test as it ends, "ok NAME (S s)",
-- "not ok NAME (file:line)" with the message and traceback indented below, or "pending NAME";
-- errors outside a test (file load, setup, teardown, hooks) are "not ok" lines too. At the end
-- "N pending" when some were, then "N passed, N failed".
--
-- Written by hand rather than parsed from busted's JSON output: that one cannot encode a
-- pending test (its record holds a function) and prints nothing at all for the whole file.
return function()
  local busted = require "busted"
  local handler = require("busted.outputHandlers.base")()
  local passed, failed, pending = 0, 0, 0
  local last_test -- the name of the test that ended last, for errors in its after_each

  local function say(line)
    io.write(line, "\n")
    io.flush()
  end

  local function indent(text)
    return "  " .. tostring(text):gsub("\n", "\n  ")
  end

  local function not_ok(t, after)
    failed = failed + 1
    local trace = type(t.trace) == "table" and t.trace or {}
    say(("not ok %s%s (%s:%s)"):format(t.name or "?", after and (' after "' .. after .. '"') or "",
      trace.short_src or "?", tostring(trace.currentline or "?")))
    local message = t.message
    if type(message) ~= "string" then message = require("pl.pretty").write(message) end
    say(indent(message))
    if trace.traceback then say(indent(trace.traceback)) end
  end

  function handler.testEnd(element, _, status)
    last_test = handler.getFullName(element)
    if status == "success" then
      passed = passed + 1
      say(("ok   %s (%.2f s)"):format(handler.successes[#handler.successes].name,
        element.duration or 0))
    elseif status == "pending" then
      pending = pending + 1
      local t = handler.pendings[#handler.pendings]
      local trace = type(t.trace) == "table" and t.trace or {}
      say(("pending %s (%s:%s)"):format(t.name, trace.short_src or "?",
        tostring(trace.currentline or "?")))
    elseif status == "failure" then
      not_ok(handler.failures[#handler.failures])
    elseif status == "error" then
      not_ok(handler.errors[#handler.errors])
    end
    return nil, true
  end

  -- Errors and failures outside an `it`: the base handler records them, we print them. One in
  -- an after_each (a server's stop() finding a crash in its log) names the test it followed.
  function handler.outsideTest(element)
    if element.descriptor ~= "it" then
      not_ok(handler.errors[#handler.errors], element.descriptor == "after_each" and last_test)
    end
    return nil, true
  end

  function handler.suiteEnd()
    if pending > 0 then say(pending .. " pending") end
    say(("%d passed, %d failed"):format(passed, failed))
    return nil, true
  end

  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "error" }, handler.outsideTest)
  busted.subscribe({ "failure" }, handler.outsideTest)
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  return handler
end
