"""Route matching (Kong's traditional_compatible router, for the attributes the stand-in supports).

Order of precedence among matching routes: routes with a `methods` constraint first, then regex
paths (higher `regex_priority` first) before prefix paths, then the longest prefix.
"""

from __future__ import annotations

from .config import Route


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> Route | None:
        best: Route | None = None
        best_score: tuple = ()
        for r in self.routes:
            if r.methods is not None and method not in r.methods:
                continue
            score = None
            for rx in r.regexes:
                if rx.match(path):
                    score = (r.methods is not None, 1, r.regex_priority, 0)
                    break
            if score is None:
                plen = max((len(p) for p in r.prefixes if path.startswith(p)), default=-1)
                if plen < 0:
                    continue
                score = (r.methods is not None, 0, 0, plen)
            if best is None or score > best_score:
                best, best_score = r, score
        return best
