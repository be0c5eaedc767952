"""acl (priority 950): kong/plugins/acl/handler.lua (consumer groups from consumers[].acls)."""

from __future__ import annotations

from ..context import RequestContext
from ..kong import error
from . import Plugin


class Acl(Plugin):
    name = "acl"
    priority = 950

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.deny_mode = bool(conf.get("deny"))
        self.groups = set(conf.get("deny") or conf.get("allow") or [])

    def access(self, ctx: RequestContext) -> None:
        consumer = ctx.consumer
        accept = ctx.header("accept")
        if consumer is None:
            # no authenticated groups in this stand-in (no ldap/oauth2 plugins)
            if ctx.credential is not None:
                raise error(403, "You cannot consume this service", ctx.kong_request_id, accept)
            raise error(401, None, ctx.kong_request_id, accept)
        groups = consumer.groups
        in_group = any(g in self.groups for g in groups)
        blocked = in_group if self.deny_mode else not in_group
        if blocked:
            raise error(403, "You cannot consume this service", ctx.kong_request_id, accept)
        if not self.conf["hide_groups_header"]:
            ctx.set_upstream_header("X-Consumer-Groups", ", ".join(groups))
