"""Pod IP allocation from each node's podCIDR (host-local IPAM: .2 upwards, round robin)."""

from __future__ import annotations

import ipaddress


class NodeIPAM:
    """Addresses of one node's /24 (or any IPv4 CIDR), keyed by pod UID."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr)
        self._first = int(self.network.network_address) + 2  # .1 is the node's bridge
        self._last = int(self.network.broadcast_address) - 1
        self._by_uid: dict[str, int] = {}
        self._used: set[int] = set()
        self._next = self._first

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    def __len__(self) -> int:
        return len(self._by_uid)

    def get(self, uid: str) -> str | None:
        ip = self._by_uid.get(uid)
        return None if ip is None else str(ipaddress.IPv4Address(ip))

    def reserve(self, uid: str, ip: str) -> bool:
        """Record an address already in use (found in a pod's status); False if not ours or taken."""
        try:
            addr = int(ipaddress.IPv4Address(ip))
        except ValueError:
            return False
        if not self._first <= addr <= self._last:
            return False
        if self._by_uid.get(uid) == addr:
            return True
        if addr in self._used:
            return False
        self.release(uid)
        self._by_uid[uid] = addr
        self._used.add(addr)
        return True

    def allocate(self, uid: str) -> str:
        """The pod's address, allocating the next free one; RuntimeError when the range is full."""
        have = self._by_uid.get(uid)
        if have is not None:
            return str(ipaddress.IPv4Address(have))
        size = self._last - self._first + 1
        for i in range(size):
            addr = self._first + (self._next - self._first + i) % size
            if addr not in self._used:
                self._used.add(addr)
                self._by_uid[uid] = addr
                self._next = addr + 1 if addr < self._last else self._first
                return str(ipaddress.IPv4Address(addr))
        raise RuntimeError(f"no free pod IP in {self.network}")

    def release(self, uid: str) -> None:
        addr = self._by_uid.pop(uid, None)
        if addr is not None:
            self._used.discard(addr)
