-- Accounts in GraphQL: `me` answers what REST's GET /user/me answers (users.service).
local users = require "users.service"

return {
  Query = {
    me = function(_, _, ctx)
      return users.me(ctx.user)
    end,
  },
}
