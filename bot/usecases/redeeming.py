"""Redeeming a voucher, and saying how much credit it added.

`token_pay` answers only `OK: 605`: the gateway does not say what the voucher was worth. So the
balance is read just before and just after, and the difference is the credit added (a send
between the two reads would show in it, which is why both balances are reported too). A balance
that cannot be read leaves the amount unknown; the voucher itself is still redeemed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.gateway.base import Balance, Gateway, GatewayError


@dataclass(frozen=True)
class Redemption:
    code: str  # the gateway's answer, e.g. "605"
    before: Balance | None
    after: Balance | None

    @property
    def added(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return round(self.after.amount - self.before.amount, 6)


def redeem_voucher(gateway: Gateway, voucher: str) -> Redemption:
    if not gateway.capabilities.redeem:
        gateway.redeem(voucher)  # raises Unsupported, making no call at all
    before = _balance(gateway)
    redeemed = gateway.redeem(voucher)  # a refused voucher raises: nothing to report
    after = _balance(gateway) if before is not None else None
    return Redemption(redeemed.code, before, after)


def _balance(gateway: Gateway) -> Balance | None:
    try:
        return gateway.balance()
    except GatewayError:
        return None
