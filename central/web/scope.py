"""What a user may see: the branches of their scope (central: all; region: the branches whose
region path includes theirs; branch: theirs; viewer: their region or branch if given, else all)
and what they may do (a viewer reads only, and exports nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from central.accounts import User
from config.centre import CentreConfig

NOTHING = ("\x00",)
"""A branch filter that matches no branch (a scope with no branch in it): never ``()``,
which the analytics read as "every branch"."""


class Forbidden(Exception):
    """Outside the user's scope, or not allowed to their role (HTTP 403)."""


@dataclass(frozen=True)
class Scope:
    role: str
    region: str | None
    branch: str | None

    @classmethod
    def of(cls, user: User) -> Scope:
        return cls(user.role, user.region, user.branch)

    @property
    def everything(self) -> bool:
        return self.role == "central" or (
            self.role == "viewer" and not self.region and not self.branch
        )

    @property
    def can_write(self) -> bool:
        """Acknowledge alerts, change follow-up items."""
        return self.role != "viewer"

    @property
    def can_export(self) -> bool:
        return self.role != "viewer"

    def allows(self, branch_id: str, centre: CentreConfig) -> bool:
        if self.everything:
            return True
        if self.branch:
            return branch_id == self.branch
        found = centre.branch(branch_id)
        return found is not None and self.region in found.regions

    def allows_region(self, region: str) -> bool:
        """Whether the region (a path like ``浙江省/杭州市``) is theirs or within theirs."""
        if self.everything:
            return True
        if self.branch or not self.region:
            return False
        return region == self.region or region.startswith(self.region + "/")

    def branches(self, centre: CentreConfig, known: Iterable[str]) -> tuple[str, ...]:
        """The branch filter of this scope over the ``known`` branches: ``()`` (all) for the
        central office, else the branches allowed (:data:`NOTHING` when none)."""
        if self.everything:
            return ()
        if self.branch:
            return (self.branch,)
        mine = tuple(sorted(b for b in set(known) if self.allows(b, centre)))
        return mine or NOTHING

    def check(self, branch_id: str, centre: CentreConfig) -> None:
        if not self.allows(branch_id, centre):
            raise Forbidden(f"branch {branch_id} is outside your scope")

    def describe(self) -> str:
        if self.everything:
            return "全行"
        return self.branch or self.region or "-"
